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


class Int4Linear(nn.Module):
    """A bias-free linear layer that decodes with 4-bit weights and prefills in bf16."""

    def __init__(self, linear: nn.Linear, group: int = GROUP) -> None:
        super().__init__()
        self.group = group
        self.out_features = linear.out_features
        self.weight = nn.Parameter(linear.weight.data.to(torch.bfloat16), requires_grad=False)
        packed, scales_and_zeros = pack(linear.weight.data, group)
        self.register_buffer("packed", packed, persistent=False)
        self.register_buffer("scales_and_zeros", scales_and_zeros, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W.T``: the int4 kernel for a few rows, bf16 otherwise."""
        rows = x.reshape(-1, x.shape[-1])
        if rows.shape[0] > MAX_DECODE_ROWS:
            return nn.functional.linear(x.to(torch.bfloat16), self.weight).to(x.dtype)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(
            rows.to(torch.bfloat16), self.packed, self.group, self.scales_and_zeros
        )
        out: torch.Tensor = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return out


def quantize_decoder(model: Any, group: int = GROUP) -> int:
    """Swap the linear layers of a LLaMA model's decoder layers for :class:`Int4Linear`.

    The embedding and the output head stay as they are (the GGUF keeps them at 8 bits).
    On a PEFT model the LoRA layers' base weights are quantised and the adapter's A and B
    matrices stay in bf16 beside them, unmerged: merging first and then quantising loses
    the adapter's small weight deltas in the 4-bit rounding.

    Returns:
        How many layers were swapped (0 when a layer does not fit: bias or odd width).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = base.model.layers
    targets = [
        (parent, name, child)
        for path, parent in layers.named_modules()
        if "lora_" not in path  # a LoRA adapter's own small layers stay in bf16
        for name, child in parent.named_children()
        if isinstance(child, nn.Linear) and not name.startswith("lora_")
    ]
    if any(c.bias is not None or c.in_features % group for _, _, c in targets):
        log.info("int4 decoding skipped: a linear layer has a bias or an odd width")
        return 0
    for parent, name, child in targets:
        setattr(parent, name, Int4Linear(child, group))
    return len(targets)
