"""What a method of the protocol is: the hook for baselines, peer models and the agent.

A :data:`SetRecommender` answers one visit. It gets the visit **without its medications**
(:meth:`~training.evaluation.safedrug.visits.Visit.without_medications`) and the
patient's earlier visits **with** theirs, and returns scored ATC-3 classes:

* the recommended set is every class scored at least :data:`SET_THRESHOLD` (0.5, the
  threshold of SafeDrug's sigmoid outputs); a set-only method scores its set 1.0;
* the ranking behind PRAUC is every returned class by score (ties by class); classes not
  returned are never ranked (a gold class left out adds 0 to the average precision).

A :data:`Trainer` turns training patients into a recommender: the evaluation trains each
one per fold on patients that are never evaluated in that fold.

Example:
    >>> def repeat(visit: Visit, history: Sequence[Visit]) -> dict[str, float]:
    ...     return {c: 1.0 for c in history[-1].medications} if history else {}
    >>> recommended_set({"C07A": 0.9, "N02B": 0.2})
    frozenset({'C07A'})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from training.evaluation.safedrug.visits import Patient, Visit

SetRecommender = Callable[[Visit, Sequence[Visit]], Mapping[str, float]]
"""``(visit without medications, earlier visits with theirs) -> {ATC-3 class: score}``."""

Trainer = Callable[[Sequence[Patient]], SetRecommender]
"""Training patients (all their visits) -> a recommender."""

SET_THRESHOLD = 0.5
"""A class scored at least this is in the recommended set."""


def recommended_set(scores: Mapping[str, float]) -> frozenset[str]:
    """The classes scored at least :data:`SET_THRESHOLD`."""
    return frozenset(c for c, s in scores.items() if s >= SET_THRESHOLD)


def ranking(scores: Mapping[str, float]) -> list[str]:
    """The returned classes, best score first (ties by class name)."""
    return [c for c, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


def around_threshold(score: float, threshold: float) -> float:
    """Map a score in [0, 1] so that ``threshold`` lands on :data:`SET_THRESHOLD`.

    Monotone, so the ranking is kept: a method tuned to cut at ``threshold`` returns
    scores that the protocol cuts at 0.5.

    Example:
        >>> around_threshold(0.2, 0.2), around_threshold(0.1, 0.2)
        (0.5, 0.25)
    """
    if threshold <= 0.0:
        return SET_THRESHOLD + (1 - SET_THRESHOLD) * score
    if score < threshold:
        return SET_THRESHOLD * score / threshold
    if threshold >= 1.0:
        return 1.0
    return SET_THRESHOLD + (1 - SET_THRESHOLD) * (score - threshold) / (1 - threshold)
