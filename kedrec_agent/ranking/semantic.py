"""How close two short names are in meaning: a disease against another, or against a drug class.

The MeSH trees relate *epilepsy* to *seizures* only where both sit under one heading, and
say nothing of a drug class. The sentence embedding the literature store already uses
(all-MiniLM-L6-v2, :class:`~kedrec_agent.literature.embeddings.Embedder`) places
"Hypotension" near "Shock, Septic" and "Anticonvulsants" near "Epilepsy": the cosine of
two names is a second, softer relatedness for the ranker's features
(:mod:`kedrec_agent.ranking.features`). Names are embedded once per process and kept.

Example:
    >>> names = NameSimilarity.from_settings(get_settings())  # doctest: +SKIP
    >>> names.best("Epilepsy", ["Anticonvulsants", "Antiemetics"])  # doctest: +SKIP
    [0.61, 0.18]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kedrec_agent.config import Settings
from kedrec_agent.errors import KedrecError

log = logging.getLogger(__name__)

Encode = Callable[[Sequence[str]], np.ndarray]
"""Unit-length embeddings, one row per text (:meth:`Embedder.embed`)."""


class NameSimilarity:
    """Cosine similarity of names in a sentence-embedding space, each name embedded once.

    Args:
        encode: texts -> unit-length vectors (one row per text).
    """

    def __init__(self, encode: Encode) -> None:
        self._encode = encode
        self._vectors: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> NameSimilarity:
        """The process-wide similarity over the literature's embedding model.

        Raises:
            ConfigError: the embedding model is not installed (see the embedder).
        """
        from kedrec_agent.literature.embeddings import Embedder

        embedder = Embedder.from_settings(settings)
        with _LOCK:
            if id(embedder) not in _SHARED:
                _SHARED[id(embedder)] = cls(embedder.embed)
            return _SHARED[id(embedder)]

    def _embedded(self, names: Sequence[str]) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
        with self._lock:
            missing = [n for n in dict.fromkeys(names) if n not in self._vectors]
            if missing:
                self._vectors.update(zip(missing, self._encode(missing), strict=True))
            return [self._vectors[n] for n in names]

    def best(self, name: str, others: Sequence[str], k: int = 2) -> list[float]:
        """The ``k`` highest cosines of ``name`` with ``others``, highest first (fewer if short)."""
        others = [o for o in dict.fromkeys(others) if o]
        if not name or not others:
            return []
        anchor, *vectors = self._embedded([name, *others])
        scores = sorted((float(v @ anchor) for v in vectors), reverse=True)
        return [round(s, 4) for s in scores[:k]]


def optional_similarity(settings: Settings) -> NameSimilarity | None:
    """:meth:`NameSimilarity.from_settings`, or ``None`` (features 0) when the model is missing."""
    try:
        return NameSimilarity.from_settings(settings)
    except KedrecError as exc:
        log.warning("name similarity unavailable for the ranker (features set to 0): %s", exc)
        return None


_SHARED: dict[int, NameSimilarity] = {}
_LOCK = threading.Lock()
