"""What the machine does fast: one place for the device and dtype choices of both models."""

from __future__ import annotations

from pathlib import Path


def cuda_available() -> bool:
    """Whether a CUDA GPU is usable (imports torch)."""
    import torch

    return bool(torch.cuda.is_available())


def fast_bf16(device: str) -> bool:
    """bf16 where the hardware computes it natively: AMX / AVX512-BF16 CPUs, recent GPUs.

    Measured on this project's 2-core CPUs: the embedder 2-2.5x faster than float32
    (cosine >= 0.996 to float32), the reasoning model's prefill 3x faster.
    """
    if device == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
