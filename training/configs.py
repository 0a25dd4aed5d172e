"""Named LoRA fine-tuning settings for :func:`training.sft.train_adapter`.

Two configurations:

* ``cpu-small``: the default SmolLM2-135M-Instruct on a 2-core CPU, sized so that a run on
  ~400-600 traces of ~700 prompt tokens ends in about 30 minutes (bf16 where the CPU
  computes it natively, else float32 and fewer steps).
* ``gpu``: any local LLaMA-family checkpoint on a CUDA GPU, bf16, a larger LoRA rank.

Example:
    >>> get_config("cpu-small").lora_r
    8
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kedrec_agent.errors import ConfigError
from kedrec_agent.hardware import fast_bf16

LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The linear layers of a LLaMA decoder block: attention and MLP projections."""


class SFTSettings(BaseModel):
    """Hyper-parameters of one supervised fine-tuning (LoRA) run.

    Attributes:
        name: the configuration's name (recorded in the report and model card).
        base_model: a local LLaMA-family checkpoint folder; ``None`` means the reasoning
            node's model (``KEDREC_MODEL``, else the converted SmolLM2-135M-Instruct).
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling numerator (the update is scaled by alpha / r).
        lora_dropout: dropout on the LoRA branch's input.
        target_modules: names of the linear layers that get a LoRA branch.
        learning_rate: peak AdamW learning rate.
        warmup_ratio: fraction of the optimizer steps spent warming the learning rate up.
        epochs: passes over the training examples (fractions allowed).
        max_steps: stop after this many optimizer steps if the epochs are not done by
            then (a time cap: examples are shuffled, so a cut epoch is a random subset);
            never more steps than ``epochs`` make.
        batch_size: examples per device per forward pass.
        gradient_accumulation: forward passes per optimizer step.
        max_length: the most tokens (prompt plus completion) of one example; longer
            examples are dropped and counted, never truncated.
        seed: seed of the LoRA initialisation, the data order and dropout.
        dtype: ``float32``, or ``bfloat16`` (bf16 weights and bf16 autocast; on a CPU only
            worth it where it computes bf16 natively, see :func:`kedrec_agent.hardware.fast_bf16`).
        gradient_checkpointing: recompute activations in the backward pass (less memory,
            about a third more compute).
        logging_steps: optimizer steps between loss records.
        save_steps: optimizer steps between checkpoints (a run resumes from the last one).
        max_examples: use only the first this many traces; ``None`` means all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base_model: Path | None = None
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = Field(default=16, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: tuple[str, ...] = LLAMA_PROJECTIONS
    learning_rate: float = Field(default=2e-4, gt=0.0)
    warmup_ratio: float = Field(default=0.05, ge=0.0, lt=1.0)
    epochs: float = Field(default=1.0, gt=0.0)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=1, ge=1)
    gradient_accumulation: int = Field(default=8, ge=1)
    max_length: int = Field(default=1024, ge=8)
    seed: int = 0
    dtype: Literal["float32", "bfloat16"] = "float32"
    gradient_checkpointing: bool = False
    logging_steps: int = Field(default=5, ge=1)
    save_steps: int = Field(default=20, ge=1)
    max_examples: int | None = Field(default=None, ge=1)


# cpu-small, measured on this project's 2-core CPU (Xeon, AVX512-BF16, no AMX) with
# SmolLM2-135M-Instruct, LoRA r=8 on all 7 projections (2.4 M trainable parameters),
# synthetic traces of 783 tokens (~715 prompt + 67 completion), load average ~2 (the run
# alone on the 2 cores), steady state per example (one optimizer step per example):
#
#   float32,  batch 1:                    5.0 s/example, 155 tokens/s, peak RSS 4.3 GB
#   bfloat16, batch 1:                    3.2 s/example, 243 tokens/s, peak RSS 3.2 GB
#   bfloat16, batch 2:                    3.1 s/example, 254 tokens/s, peak RSS 5.6 GB
#   bfloat16, batch 4:                    4.4 s/example, 179 tokens/s, peak RSS 10.0 GB
#   bfloat16, batch 1, grad. checkpoint: ~3x slower (not used)
#
# The loss over those 8 steps fell alike in float32 and bf16 (1.75 -> 1.40 / 1.56): bf16
# (1.6x faster) with batch 1 (least memory; batch 2 is within noise), accumulating 8
# (effective batch 8). This config itself, 24 traces: 26.7 s per optimizer step (26.5-27.1),
# 236 tokens/s, peak RSS 3.5 GB; loading the model, tokenizing (500 traces: ~3 s) and saving
# add seconds. So 60 steps (480 examples) take ~27 min: one epoch of up to 480 traces, a
# random 480 of more, 30 min end to end for 400-600 traces. Longer prompts (up to ~1000
# tokens) cost proportionally more; other processes on the 2 cores made the same steps
# 1.5-3x slower in some runs. A CPU without native bf16 (`fast_bf16("cpu")` false) gets
# float32 and 40 steps (320 examples, ~27 min at 5 s/example).
#
# The real traces are longer (~1,000-token prompts): 48 steps (384 examples) took ~32 min
# at ~40 s per step alone on the 2 cores, so tasks (seconds) + traces (9 min) + SFT stay
# under 45 min. At 3e-4 the first 40-step adapter still wrote garbled rationales (loss
# 0.83); at 1e-3 the loss reached ~0.5 by step 20.
_CPU_BF16 = fast_bf16("cpu")

CPU_SMALL = SFTSettings(
    name="cpu-small",
    lora_r=8,  # the bf16 adapter is 4.9 MB (r=16 would be 9.8 MB, too close to 10 MB)
    lora_alpha=16,
    learning_rate=1e-3,  # few steps: a high LoRA learning rate (3e-4 left the answers garbled)
    epochs=1.0,
    max_steps=48 if _CPU_BF16 else 32,
    batch_size=1,
    gradient_accumulation=8,
    max_length=1280,  # a full prompt (~1000 tokens: budget 1024 - 48) plus a 200-token answer
    dtype="bfloat16" if _CPU_BF16 else "float32",
    logging_steps=5,
    save_steps=10,
)

GPU = SFTSettings(
    name="gpu",
    lora_r=32,
    lora_alpha=64,
    learning_rate=1e-4,
    epochs=3.0,
    batch_size=8,
    gradient_accumulation=2,
    max_length=2048,
    dtype="bfloat16",
    gradient_checkpointing=True,
    logging_steps=10,
    save_steps=100,
)

CONFIGS: dict[str, SFTSettings] = {c.name: c for c in (CPU_SMALL, GPU)}
"""The named configurations, by name."""


def get_config(name: str) -> SFTSettings:
    """The named configuration.

    Raises:
        ConfigError: no configuration has that name (the message lists the known ones).
    """
    try:
        return CONFIGS[name]
    except KeyError:
        known = ", ".join(sorted(CONFIGS))
        raise ConfigError(f"Unknown SFT configuration {name!r}; known: {known}.") from None


__all__ = ["CONFIGS", "LLAMA_PROJECTIONS", "SFTSettings", "get_config"]
