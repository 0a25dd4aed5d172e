"""bf16 weights for decoding on a CPU without native bf16, where the model runs in float32.

On such a CPU (AVX2, no AVX512-BF16 / AMX) a float32 model prefills fastest, but decoding
one token reads every weight once, ~540 MB for SmolLM2-135M in float32. Reading bf16
copies halves that, and PyTorch's bf16 matrix-vector product on AVX2 is bound by the
bytes, not the conversion: on this project's 2-core AVX2 CPU decoding ran at 20 against
10 tokens/s (``bench/llm.py``), while a bf16 prefill was 6x slower than float32's. The
4-bit kernel of :mod:`~kedrec_agent.reasoning.int4` decoded at 13 tokens/s there.

So each decoder linear layer and the output head keep their float32 weight for prompts
(many rows) and a bf16 copy for decoding steps (a few rows). bf16 is SmolLM2's own
training precision. An adapter's LoRA matrices stay unmerged beside the bf16 copy, in
float32 (bf16 rounding would lose their small deltas), and merged into the float32 weight.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kedrec_agent.reasoning.int4 import MAX_DECODE_ROWS, Lora, UnmergedLora, decoder_linears


class Bf16DecodeLinear(UnmergedLora):
    """A linear layer that prefills with its float32 weight and decodes with a bf16 copy."""

    def __init__(self, linear: nn.Linear, lora: Lora | None = None) -> None:
        super().__init__()
        self.out_features = linear.out_features
        dense = linear.weight.data.float()
        self.bf16 = nn.Parameter(dense.to(torch.bfloat16), requires_grad=False)
        if lora is not None:  # prefill's float32 weight carries the adapter merged
            dense = dense + lora[1].float() @ lora[0].float()
        self.weight = nn.Parameter(dense, requires_grad=False)
        self.bias = linear.bias
        self.keep_lora(lora)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W.T`` (+ bias, + the LoRA update): bf16 for a few rows, float32 otherwise."""
        rows = x.reshape(-1, x.shape[-1]).float()
        if rows.shape[0] > MAX_DECODE_ROWS:
            y = nn.functional.linear(rows, self.weight, self.bias)
        else:
            y = nn.functional.linear(rows.to(torch.bfloat16), self.bf16).float()
            if (update := self.lora_update(rows)) is not None:
                y = y + update
            if self.bias is not None:
                y = y + self.bias
        out: torch.Tensor = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return out


def convert(model: Any) -> int:
    """Give a float32 LLaMA model's decoder layers and output head bf16 decoding copies.

    The input embedding is untouched: a tied output head gets its own copies and the
    embedding keeps the float32 weight.

    Returns:
        How many layers were swapped.
    """
    targets = decoder_linears(model)
    for parent, name, linear, lora in targets:
        setattr(parent, name, Bf16DecodeLinear(linear, lora))
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(base, "lm_head", None)
    if isinstance(head, nn.Linear):
        base.lm_head = Bf16DecodeLinear(head)
        return len(targets) + 1
    return len(targets)
