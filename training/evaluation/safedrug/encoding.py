"""Multi-hot encodings of visits for the trained methods, over a training vocabulary.

A visit's features are its diagnoses, its procedures and the classes of the visit before
it (none for a first visit), in one index space: ``[diagnoses | procedures | classes]``.
Codes never seen in training are dropped.

Example:
    >>> vocab = Vocabulary.from_patients(patients)  # doctest: +SKIP
    >>> vocab.features(visit, previous)  # doctest: +SKIP
    [3, 17, 250]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.evaluation.safedrug.visits import Patient, Visit


def _index(codes: Iterable[str]) -> dict[str, int]:
    return {code: i for i, code in enumerate(sorted(set(codes)))}


@dataclass(frozen=True)
class Vocabulary:
    """The codes and classes of the training visits, each with its index."""

    diagnoses: dict[str, int]
    procedures: dict[str, int]
    classes: tuple[str, ...]

    @classmethod
    def from_patients(cls, patients: Sequence[Patient]) -> Vocabulary:
        """The vocabulary of every visit of ``patients``."""
        visits = [v for p in patients for v in p.visits]
        return cls(
            diagnoses=_index(d for v in visits for d in v.diagnoses),
            procedures=_index(c for v in visits for c in v.procedures),
            classes=tuple(sorted({c for v in visits for c in v.medications})),
        )

    @property
    def class_index(self) -> dict[str, int]:
        """Class -> its column."""
        return {c: i for i, c in enumerate(self.classes)}

    @property
    def width(self) -> int:
        """Number of features."""
        return len(self.diagnoses) + len(self.procedures) + len(self.classes)

    def features(self, visit: Visit, previous: Visit | None) -> list[int]:
        """Feature indices of a visit (the previous visit's classes included)."""
        d, p = len(self.diagnoses), len(self.procedures)
        found = [self.diagnoses[c] for c in visit.diagnoses if c in self.diagnoses]
        found += [d + self.procedures[c] for c in visit.procedures if c in self.procedures]
        if previous is not None:
            index = self.class_index
            found += [d + p + index[c] for c in previous.medications if c in index]
        return sorted(found)

    def labels(self, visit: Visit) -> list[int]:
        """Class columns of a visit's medications (classes seen in training only)."""
        index = self.class_index
        return sorted(index[c] for c in visit.medications if c in index)


def with_previous(patients: Sequence[Patient]) -> Iterator[tuple[Visit, Visit | None]]:
    """Every visit of ``patients`` with the one before it (``None`` for a first visit)."""
    for patient in patients:
        previous: Visit | None = None
        for visit in patient.visits:
            yield visit, previous
            previous = visit


def multi_hot(rows: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """A dense 0/1 float32 matrix with one row per index list."""
    matrix = np.zeros((len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        matrix[i, list(row)] = 1.0
    return matrix


def sparse_multi_hot(rows: Sequence[Sequence[int]], width: int) -> Any:
    """The same as a SciPy CSR matrix (for the full MIMIC-III's thousands of codes)."""
    from scipy.sparse import csr_matrix

    pointers = np.cumsum([0, *(len(r) for r in rows)])
    columns = np.fromiter((c for r in rows for c in r), dtype=np.int64, count=int(pointers[-1]))
    data = np.ones(len(columns), dtype=np.float64)
    return csr_matrix((data, columns, pointers), shape=(len(rows), width))
