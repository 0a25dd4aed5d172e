"""The PEFT LoRA adapter as a GGUF LoRA, for llama.cpp's server (``--lora``).

The adapter's A and B matrices are written as they are (f16) under llama.cpp's tensor
names (``blk.N.attn_q.weight.lora_a``), with its alpha, so llama.cpp applies them unmerged
with PEFT's scale (alpha / r). llama.cpp stores the query and key projections of a LLaMA
model with their rows permuted for its rotary embedding (its HF converter's ``permute``), so
their B matrices (which map to those rows) get the same permutation; A is unchanged.

Example:
    >>> to_gguf(Path("adapter"), Path("adapter/kedrec-lora-f16.gguf"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from kedrec_agent.errors import ConfigError

GGUF_NAME = "kedrec-lora-f16.gguf"
"""The GGUF LoRA's file name in the adapter folder."""

MODULES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
"""Hugging Face LLaMA linear layers -> llama.cpp tensor names."""

_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


def _heads(base_gguf: Path) -> tuple[int, int]:
    """(attention heads, key/value heads) of the base model, from its GGUF metadata."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))

    def value(key: str) -> int:
        field = reader.fields[key]
        return int(field.parts[field.data[0]][0])

    return value("llama.attention.head_count"), value("llama.attention.head_count_kv")


def permute_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary row order of a query/key projection's output rows."""
    rows = weight.shape[0]
    shaped = weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
    return shaped.swapaxes(1, 2).reshape(weight.shape)


def to_gguf(adapter: Path, out: Path | None = None, heads: tuple[int, int] | None = None) -> Path:
    """Write the PEFT LoRA folder ``adapter`` as a GGUF LoRA (default ``adapter/GGUF_NAME``).

    Args:
        adapter: the PEFT folder (``adapter_config.json``, ``adapter_model.safetensors``).
        out: the GGUF file to write.
        heads: the base model's attention and key/value heads (default: the packaged
            GGUF's).

    Raises:
        ConfigError: not a LoRA of a LLaMA model's linear layers.
    """
    import gguf
    from safetensors.torch import load_file

    from kedrec_agent.reasoning.runtime import packaged_gguf

    config = json.loads((adapter / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA" or config.get("use_rslora") or config.get("use_dora"):
        raise ConfigError(f"{adapter} is not a plain LoRA adapter (rsLoRA/DoRA unsupported).")
    n_heads, kv_heads = heads or _heads(packaged_gguf())
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    out = out or adapter / GGUF_NAME
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for key in sorted(weights):
        found = _KEY.search(key)
        if found is None or found.group(2) not in MODULES:
            raise ConfigError(f"{adapter}: unexpected adapter tensor {key}")
        layer, module, part = found.groups()
        matrix = weights[key].float().numpy()
        if part == "B" and module in ("q_proj", "k_proj"):
            matrix = permute_rows(matrix, n_heads if module == "q_proj" else kv_heads)
        name = f"blk.{layer}.{MODULES[module]}.weight.lora_{part.lower()}"
        writer.add_tensor(name, matrix.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


__all__ = ["GGUF_NAME", "MODULES", "permute_rows", "to_gguf"]
