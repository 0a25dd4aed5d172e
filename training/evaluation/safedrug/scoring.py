"""The protocol's metrics: per visit, averaged over visits, with bootstrap 95% intervals.

Per visit (:func:`score_visit`): Jaccard, precision, recall and F1 of the recommended set
against the prescribed classes (:func:`training.evaluation.metrics.set_metrics`), PRAUC as
the average precision of the ranking (:func:`training.evaluation.metrics.average_precision`),
the number of classes and the set's (interacting, all) class pairs. Over visits
(:func:`summarize`): the mean of each, and SafeDrug's DDI rate, interacting pairs over
all pairs pooled over the recommended sets (:func:`training.evaluation.metrics.ddi_rate`).
SafeDrug averages per patient first and then over patients; we average over visits.

:func:`bootstrap` resamples patients (their visits go together), seeded, and gives the
2.5 and 97.5 percentiles of every figure.

Example:
    >>> row = score_visit(1, {"A": 1.0, "B": 0.2}, {"A", "C"}, ClassDDI.from_pairs([]))
    >>> row.jaccard, row.prauc
    (0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

import numpy as np

from training.evaluation.metrics import average_precision, ddi_pairs, set_metrics
from training.evaluation.safedrug.ddi import ClassDDI
from training.evaluation.safedrug.protocol import ranking, recommended_set

MEANS = ("jaccard", "precision", "recall", "f1", "prauc", "avg_classes")
"""The figures averaged over visits (the DDI rate is pooled instead)."""

FIGURES = (*MEANS, "ddi_rate")


@dataclass(frozen=True)
class VisitScore:
    """One visit's figures for one method."""

    subject_id: int
    jaccard: float
    precision: float
    recall: float
    f1: float
    prauc: float
    avg_classes: float
    ddi_pairs: int
    pairs: int


def score_visit(
    subject_id: int, scores: Mapping[str, float], gold: Set[str], ddi: ClassDDI
) -> VisitScore:
    """Score one recommendation (scored classes) against the prescribed classes.

    Args:
        subject_id: the patient, for the bootstrap.
        scores: the recommender's scored classes (set: score >= 0.5).
        gold: the visit's prescribed ATC-3 classes.
        ddi: the class interaction relation.
    """
    chosen = recommended_set(scores)
    figures = set_metrics(chosen, gold)
    bad, pairs = ddi_pairs(chosen, ddi.interacts)
    return VisitScore(
        subject_id=subject_id,
        jaccard=figures["jaccard"],
        precision=figures["precision"],
        recall=figures["recall"],
        f1=figures["f1"],
        prauc=average_precision(ranking(scores), gold),
        avg_classes=float(len(chosen)),
        ddi_pairs=bad,
        pairs=pairs,
    )


def _matrix(rows: Sequence[VisitScore]) -> np.ndarray:
    """Visits x (the :data:`MEANS`, interacting pairs, pairs)."""
    return np.array(
        [[getattr(r, name) for name in MEANS] + [r.ddi_pairs, r.pairs] for r in rows],
        dtype=float,
    ).reshape(len(rows), len(MEANS) + 2)


def _figures(sums: np.ndarray, visits: np.ndarray) -> np.ndarray:
    """Per resample (rows): the means over visits and the pooled DDI rate."""
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums[:, : len(MEANS)] / visits[:, None]
        ddi = sums[:, -2] / sums[:, -1]
    result: np.ndarray = np.nan_to_num(np.column_stack([means, ddi]), nan=0.0)
    return result


def summarize(rows: Sequence[VisitScore]) -> dict[str, float]:
    """Every figure over the visits: means, and the DDI rate pooled over sets.

    Example:
        >>> summarize([])["jaccard"]
        0.0
    """
    if not rows:
        return {**dict.fromkeys(FIGURES, 0.0), "visits": 0.0}
    matrix = _matrix(rows)
    values = _figures(matrix.sum(axis=0)[None, :], np.array([float(len(rows))]))[0]
    return {**{name: float(v) for name, v in zip(FIGURES, values, strict=True)},
            "visits": float(len(rows))}  # fmt: skip


def bootstrap(
    rows: Sequence[VisitScore], *, resamples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Seeded 95% percentile intervals of every figure, resampling patients.

    Patients are drawn with replacement (as many as there are) and each brings all its
    visits, so visits of one patient, which are not independent, stay together.

    Args:
        rows: one method's visit scores.
        resamples: bootstrap resamples.
        seed: seeds the draws (same rows and seed: same intervals).

    Returns:
        Per figure of :data:`FIGURES`, ``(low, high)``.
    """
    if not rows or resamples < 1:
        return {name: (0.0, 0.0) for name in FIGURES}
    subjects = sorted({r.subject_id for r in rows})
    index = {s: i for i, s in enumerate(subjects)}
    matrix = _matrix(rows)
    per_patient = np.zeros((len(subjects), matrix.shape[1]))
    visits = np.zeros(len(subjects))
    for row, values in zip(rows, matrix, strict=True):
        per_patient[index[row.subject_id]] += values
        visits[index[row.subject_id]] += 1
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(subjects), size=(resamples, len(subjects)))
    weights = np.zeros((resamples, len(subjects)))
    np.add.at(weights, (np.arange(resamples)[:, None], drawn), 1.0)
    figures = _figures(weights @ per_patient, weights @ visits)
    low, high = np.percentile(figures, [2.5, 97.5], axis=0)
    return {name: (float(lo), float(hi)) for name, lo, hi in zip(FIGURES, low, high, strict=True)}
