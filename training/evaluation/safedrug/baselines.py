"""Baselines of the protocol, each a :data:`~.protocol.Trainer` (training patients in).

* :func:`repeat_previous`: the previous visit's classes, unchanged (nothing to train).
* :func:`diagnosis_frequency`: per diagnosis code, how often each class is prescribed in
  the training visits that carry it; a visit's class score is the mean over its known
  diagnoses (no known diagnosis: the classes' overall frequency). The cut-off is tuned
  on the training visits only, each scored leave-one-visit-out (its own counts removed),
  to the threshold of best mean Jaccard.
* :func:`logistic_regression`: scikit-learn logistic regressions, one per class
  (one-vs-rest), over the multi-hot diagnoses, procedures and previous-visit classes
  (:mod:`.encoding`); the set is every class of probability >= 0.5.

Example:
    >>> recommend = diagnosis_frequency(training_patients)  # doctest: +SKIP
    >>> recommend(visit.without_medications(), earlier_visits)  # doctest: +SKIP
    {'A02B': 0.81, 'B01A': 0.74, ...}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from training.evaluation.safedrug.encoding import (
    Vocabulary,
    multi_hot,
    sparse_multi_hot,
    with_previous,
)
from training.evaluation.safedrug.protocol import SetRecommender, around_threshold
from training.evaluation.safedrug.visits import Patient, Visit

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))
"""The cut-offs :func:`diagnosis_frequency` chooses from (0.05 ... 0.95)."""


def _repeat(visit: Visit, history: Sequence[Visit]) -> Mapping[str, float]:
    return dict.fromkeys(history[-1].medications, 1.0) if history else {}


def repeat_previous(patients: Sequence[Patient]) -> SetRecommender:
    """The previous visit's classes (a first visit gets none); ``patients`` unused."""
    del patients
    return _repeat


def _mean_jaccard(predicted: np.ndarray, gold: np.ndarray) -> float:
    both = (predicted & gold).sum(axis=1)
    either = (predicted | gold).sum(axis=1)
    return float(np.mean(np.where(either > 0, both / np.maximum(either, 1), 0.0)))


def _loo_scores(x: Any, y: np.ndarray, counts: np.ndarray, co: np.ndarray) -> np.ndarray:
    """Each training visit's scores with its own counts removed."""
    seen_elsewhere = (counts > 1).astype(float)
    weights = np.where(counts > 1, 1.0 / np.maximum(counts - 1, 1), 0.0)
    known = np.asarray(x @ seen_elsewhere).ravel()
    summed = np.asarray(x @ (co * weights[:, None])) - y * np.asarray(x @ weights).ravel()[:, None]
    visits = len(y)
    prior = (y.sum(axis=0)[None, :] - y) / max(visits - 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = summed / known[:, None]
    result: np.ndarray = np.where(known[:, None] > 0, scores, prior)
    return result


def diagnosis_frequency(
    patients: Sequence[Patient], thresholds: Sequence[float] = THRESHOLDS
) -> SetRecommender:
    """Per-diagnosis class frequencies, cut at a threshold tuned on the training visits.

    Args:
        patients: the training patients.
        thresholds: the cut-offs to choose from.
    """
    vocab = Vocabulary.from_patients(patients)
    visits = [v for p in patients for v in p.visits]
    rows = [sorted(vocab.diagnoses[d] for d in v.diagnoses if d in vocab.diagnoses) for v in visits]
    x = sparse_multi_hot(rows, len(vocab.diagnoses))
    y = multi_hot([vocab.labels(v) for v in visits], len(vocab.classes)).astype(float)
    counts = np.asarray(x.sum(axis=0)).ravel()
    co = np.asarray(x.T @ y)
    frequency = co / np.maximum(counts, 1)[:, None]
    prior = y.mean(axis=0) if len(y) else np.zeros(len(vocab.classes))
    loo = _loo_scores(x, y, counts, co)
    gold = y > 0
    best = max(thresholds, key=lambda t: (_mean_jaccard(loo >= t, gold), -t))

    def recommend(visit: Visit, history: Sequence[Visit]) -> Mapping[str, float]:
        known = sorted(vocab.diagnoses[d] for d in visit.diagnoses if d in vocab.diagnoses)
        scores = frequency[known].mean(axis=0) if known else prior
        return {
            c: around_threshold(float(s), best)
            for c, s in zip(vocab.classes, scores, strict=True)
            if s > 0
        }

    return recommend


def logistic_regression(
    patients: Sequence[Patient], *, c: float = 1.0, threshold: float = 0.5
) -> SetRecommender:
    """One-vs-rest logistic regression over diagnoses, procedures and previous classes.

    A class prescribed in every training visit, or in none, gets that constant rate.

    Args:
        patients: the training patients.
        c: inverse L2 strength (scikit-learn's ``C``).
        threshold: probability from which a class is recommended.
    """
    from sklearn.linear_model import LogisticRegression

    vocab = Vocabulary.from_patients(patients)
    pairs = list(with_previous(patients))
    x = sparse_multi_hot([vocab.features(v, prev) for v, prev in pairs], vocab.width)
    y = multi_hot([vocab.labels(v) for v, _ in pairs], len(vocab.classes))
    weights = np.zeros((vocab.width, len(vocab.classes)))
    bias = np.zeros(len(vocab.classes))
    for column in range(len(vocab.classes)):
        target = y[:, column]
        rate = float(target.mean())
        if rate in (0.0, 1.0):
            bias[column] = 30.0 if rate else -30.0
            continue
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0)
        model.fit(x, target.astype(int))
        weights[:, column] = model.coef_[0]
        bias[column] = model.intercept_[0]

    def recommend(visit: Visit, history: Sequence[Visit]) -> Mapping[str, float]:
        row = vocab.features(visit, history[-1] if history else None)
        logits = weights[row].sum(axis=0) + bias
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        return {
            cls: around_threshold(float(p), threshold)
            for cls, p in zip(vocab.classes, probabilities, strict=True)
        }

    return recommend
