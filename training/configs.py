"""Named LoRA fine-tuning settings for :func:`training.sft.trainer.train_adapter`.

Two configurations:

* ``cpu-small``: the default SmolLM2-135M-Instruct on a 2-core CPU, sized so that a run of
  512 examples of ~720 prompt tokens ends in about 30 minutes (bf16 where the CPU
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


# Why cpu-small is sized so (measured throughput, memory and loss): docs/training-throughput.md.
_CPU_BF16 = fast_bf16("cpu")

CPU_SMALL = SFTSettings(
    name="cpu-small",
    lora_r=8,  # the bf16 adapter is 4.9 MB (r=16 would be 9.8 MB, too close to 10 MB)
    lora_alpha=16,
    learning_rate=1e-3,  # few steps: a high LoRA learning rate (3e-4 left the answers garbled)
    epochs=1.0,
    max_steps=64 if _CPU_BF16 else 32,  # 512 examples of ~820 tokens: ~30 min in bf16
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
