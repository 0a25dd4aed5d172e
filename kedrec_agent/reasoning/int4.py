"""4-bit weight-only linear layers for decoding on CPU, at the GGUF file's own precision.

Decoding one token reads every weight once, so on a CPU its speed is set by the bytes of
the weights: 270 MB in bf16 for SmolLM2-135M against ~90 MB for llama.cpp's Q4_1 file.
The packaged GGUF stores the decoder's linear layers in Q4_1 (4-bit, groups of 32 with a
scale and a minimum), so re-quantising them the same way (groups of 32 along the input,
asymmetric) loses almost nothing: the answers matched bf16 on 12/12 benchmark tasks.

The layers keep their bf16 weight too: prompt prefill (many rows at once) runs as a bf16
matrix product, which is faster there; decoding steps (a few rows) use PyTorch's int4
CPU kernel (``aten._weight_int4pack_mm_for_cpu``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

GROUP = 32
MAX_DECODE_ROWS = 8
"""Inputs with more rows than this (prefill, batched scoring) use the bf16 weight."""

Lora = tuple[torch.Tensor, torch.Tensor]
"""An adapter's ``A`` and its ``B`` times the adapter's scale."""


def available() -> bool:
    """Whether this PyTorch has the int4 CPU kernels."""
    ops = torch.ops.aten
    return hasattr(ops, "_weight_int4pack_mm_for_cpu") and hasattr(
        ops, "_convert_weight_to_int4pack_for_cpu"
    )


def pack(weight: torch.Tensor, group: int = GROUP) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric 4-bit groups of ``group`` along the input dimension, packed for the kernel.

    Returns:
        The packed weight and the ``[in / group, out, 2]`` bf16 scales and zero points
        (the kernel's convention: ``w = (q - 8) * scale + zero``).
    """
    out_features, in_features = weight.shape
    groups = weight.float().reshape(out_features, in_features // group, group)
    low = groups.amin(-1, keepdim=True)
    scale = ((groups.amax(-1, keepdim=True) - low) / 15).clamp(min=1e-8)
    q = ((groups - low) / scale).round().clamp(0, 15).to(torch.int32)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
        q.reshape(out_features, in_features), 1
    )
    scales_and_zeros = torch.cat([scale, low + 8 * scale], dim=-1).transpose(0, 1)
    return packed, scales_and_zeros.contiguous().to(torch.bfloat16)


class UnmergedLora(nn.Module):
    """A layer that adds an adapter's update unmerged, ``(x @ A.T) @ (s B).T``, in float32."""

    lora_a_t: torch.Tensor | None  # A.T, [in, r], float32
    lora_b_t: torch.Tensor | None  # (s B).T, [r, out], float32

    def keep_lora(self, lora: Lora | None) -> None:
        """Keep ``lora`` (``A`` and ``s B``) transposed, in float32, as unsaved buffers."""
        a_t, b_t = (
            (t.detach().float().T.contiguous() for t in lora) if lora is not None else (None, None)
        )
        self.register_buffer("lora_a_t", a_t, persistent=False)
        self.register_buffer("lora_b_t", b_t, persistent=False)

    def lora_update(self, rows: torch.Tensor) -> torch.Tensor | None:
        """The adapter's float32 update for ``rows``, or None without an adapter."""
        if self.lora_a_t is None or self.lora_b_t is None:
            return None
        return (rows.float() @ self.lora_a_t) @ self.lora_b_t


class Int4Linear(UnmergedLora):
    """A bias-free linear layer that decodes with 4-bit weights and prefills in bf16.

    With ``lora`` (an adapter's ``A`` and its ``B`` times the adapter's scale):

    * decoding adds the update unmerged, ``x @ W.T + (x @ A.T) @ (s B).T``, in the layer
      itself (PEFT's per-layer wrapper costs more than the products on a CPU) and in
      float32 (for a rank-8 product of one row PyTorch's bf16 CPU path costs ~14 us and
      float32 ~3 us: in bf16 the adapter cut decoding from 65 to 36 tokens/s);
    * prefill's bf16 weight has it merged, ``W + s B A`` (over a batch's thousands of
      prompt rows the float32 products cost more than the layer's own).
    """

    def __init__(
        self,
        linear: nn.Linear,
        group: int = GROUP,
        lora: Lora | None = None,
    ) -> None:
        super().__init__()
        self.group = group
        self.out_features = linear.out_features
        packed, scales_and_zeros = pack(linear.weight.data, group)
        dense = linear.weight.data.float()
        if lora is not None:  # prefill's bf16 weight carries the adapter merged
            dense = dense + lora[1].float() @ lora[0].float()
        self.weight = nn.Parameter(dense.to(torch.bfloat16), requires_grad=False)
        self.register_buffer("packed", packed, persistent=False)
        self.register_buffer("scales_and_zeros", scales_and_zeros, persistent=False)
        self.keep_lora(lora)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W.T`` (+ the LoRA update): the int4 kernel for a few rows, bf16 otherwise."""
        rows = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        if rows.shape[0] > MAX_DECODE_ROWS:
            y = nn.functional.linear(rows, self.weight)
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(
                rows, self.packed, self.group, self.scales_and_zeros
            )
            if (update := self.lora_update(rows)) is not None:
                y = y + update.to(y.dtype)
        out: torch.Tensor = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return out


def lora_of(module: nn.Module) -> tuple[nn.Linear, Lora] | None:
    """A PEFT LoRA layer's base linear layer and its one adapter's (A, scale * B)."""
    adapters = getattr(module, "lora_A", None)
    if not isinstance(module, nn.Module) or adapters is None or len(adapters) != 1:
        return None
    (name,) = list(adapters.keys())
    base = getattr(module, "base_layer", None)
    if not isinstance(base, nn.Linear):
        return None
    a = adapters[name].weight.data
    b = module.lora_B[name].weight.data * float(module.scaling[name])  # type: ignore[index,union-attr]
    return base, (a, b)


def decoder_linears(model: Any) -> list[tuple[nn.Module, str, nn.Linear, Lora | None]]:
    """The linear layers of a LLaMA model's decoder layers: (parent, name, layer, LoRA).

    A PEFT LoRA layer is one entry: its base layer with its adapter's matrices. The
    embedding and the output head are not decoder layers.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    targets: list[tuple[nn.Module, str, nn.Linear, Lora | None]] = []
    for path, parent in base.model.layers.named_modules():
        if "lora_" in path or lora_of(parent) is not None:
            continue  # an adapter's own small layers, or a LoRA layer's base (taken whole)
        for name, child in parent.named_children():
            found = lora_of(child)
            if found is not None:
                targets.append((parent, name, found[0], found[1]))
            elif isinstance(child, nn.Linear) and not name.startswith("lora_"):
                targets.append((parent, name, child, None))
    return targets


def quantize_decoder(model: Any, group: int = GROUP) -> int:
    """Swap the linear layers of a LLaMA model's decoder layers for :class:`Int4Linear`.

    The embedding and the output head stay as they are (the GGUF keeps them at 8 bits).
    On a PEFT model each LoRA layer becomes one :class:`Int4Linear` with its base weight in
    4 bits and the adapter's A and B matrices beside it in bf16, unmerged: merging first
    and then quantising loses the adapter's small weight deltas in the 4-bit rounding.

    Returns:
        How many layers were swapped (0 when a layer does not fit: bias or odd width).
    """
    targets = decoder_linears(model)
    if any(c.bias is not None or c.in_features % group for _, _, c, _ in targets):
        log.info("int4 decoding skipped: a linear layer has a bias or an odd width")
        return 0
    for parent, name, linear, lora in targets:
        setattr(parent, name, Int4Linear(linear, group, lora))
    return len(targets)
