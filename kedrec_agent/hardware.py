"""What the machine does fast: one place for the device and dtype choices of both models."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")


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


def in_own_thread(work: Callable[[], T]) -> T:
    """``work()`` run in a new thread that ends with it; its result or exception.

    PyTorch's CPU kernels run on OpenMP, and GNU OpenMP keeps a team of worker threads for
    every thread that has run a parallel kernel, until that thread ends. When the teams'
    threads outnumber the cores, every team stops spinning between kernels and sleeps
    instead, and the reasoning model's decoding step (hundreds of small kernels) slows
    down: 35 against 57 tokens/s on a 2-core CPU once a second thread had run torch
    (``bench/llm.py``). So torch work outside the model's own worker thread (loading the
    models, embedding texts) runs here, and its team goes when the thread does.
    """
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def run() -> None:
        try:
            box["result"] = context.run(work)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="kedrec-torch-once")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return cast(T, box["result"])
