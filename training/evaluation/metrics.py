"""Metric functions of the evaluation harness (pure: no store, no model).

Each is small enough to be checked by hand; the unit tests do so.

Example:
    >>> selection_metrics([Outcome("DB1", "DB1", ("DB1", "DB2"))])["accuracy"]
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """One selection task's result: the chosen drug (``None``: abstained) and the gold."""

    chosen: str | None
    positive: str
    candidates: tuple[str, ...]


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def selection_metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Accuracy, precision / recall / F1 of the chosen drug, macro-F1, abstention rate.

    * ``accuracy``: tasks whose choice is the true indication, over all tasks.
    * ``precision``: correct choices over choices made (abstentions make no choice);
      ``recall``: correct choices over tasks (each task has one true drug); ``f1``: their
      harmonic mean. Without abstentions all three equal the accuracy.
    * ``macro_f1``: every (task, candidate) is a yes/no decision (chosen or not) against
      the label (true indication or not); the mean of the F1 of the two classes.
    * ``abstention``: tasks with no choice, over all tasks.
    """
    n = len(outcomes)
    answered = sum(o.chosen is not None for o in outcomes)
    correct = sum(o.chosen == o.positive for o in outcomes)
    tp = fp = fn = tn = 0
    for o in outcomes:
        for c in o.candidates:
            gold, picked = c == o.positive, c == o.chosen
            tp += gold and picked
            fp += picked and not gold
            fn += gold and not picked
            tn += not gold and not picked
    f1_yes = _f1(_ratio(tp, tp + fp), _ratio(tp, tp + fn))
    f1_no = _f1(_ratio(tn, tn + fn), _ratio(tn, tn + fp))
    precision, recall = _ratio(correct, answered), _ratio(correct, n)
    return {
        "tasks": float(n),
        "accuracy": _ratio(correct, n),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "macro_f1": (f1_yes + f1_no) / 2 if n else 0.0,
        "abstention": _ratio(n - answered, n),
    }


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer  # type: ignore[import-untyped]

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F-measures of one rationale against one reference (rouge-score, stemmed).

    Example:
        >>> rouge("imatinib inhibits BCR-ABL", "imatinib inhibits BCR-ABL")["rougeL"]
        1.0
    """
    scores = _rouge_scorer().score(reference, prediction)
    return {name: float(score.fmeasure) for name, score in scores.items()}


def citation_metrics(cited: Sequence[int], hallucinated: Sequence[int]) -> dict[str, float]:
    """Citation precision and hallucinated-id rate over answers.

    Args:
        cited: per answer, evidence ids cited that the tools had returned (and shown).
        hallucinated: per answer, ids the model wrote that were never returned (removed).

    Returns:
        ``citation_precision``: returned ids over all ids cited (pooled);
        ``hallucinated_id_rate``: answers with at least one hallucinated id, over answers.
    """
    total = sum(cited) + sum(hallucinated)
    return {
        "citation_precision": _ratio(sum(cited), total),
        "hallucinated_id_rate": _ratio(sum(h > 0 for h in hallucinated), len(hallucinated)),
    }


def set_metrics(predicted: Iterable[str], gold: Iterable[str]) -> dict[str, float]:
    """Jaccard, precision, recall and F1 of a predicted drug set against a gold set.

    Empty sets give 0 (there is nothing to agree on).
    """
    p, g = set(predicted), set(gold)
    both = len(p & g)
    precision, recall = _ratio(both, len(p)), _ratio(both, len(g))
    return {
        "jaccard": _ratio(both, len(p | g)),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
    }


def average_precision(ranked: Sequence[str], gold: Iterable[str]) -> float:
    """Average precision of a ranked list against a gold set (PRAUC of one admission).

    The sum over the ranks holding a gold drug of precision at that rank, divided by the
    size of the gold set: a gold drug never ranked adds 0.
    """
    wanted = set(gold)
    if not wanted:
        return 0.0
    hits, total = 0, 0.0
    for rank, drug in enumerate(ranked, start=1):
        if drug in wanted:
            hits += 1
            total += hits / rank
    return total / len(wanted)


def ddi_pairs(drugs: Iterable[str], interacts: Callable[[str, str], bool]) -> tuple[int, int]:
    """(interacting pairs, all pairs) among a drug set (each unordered pair once)."""
    unique = sorted(set(drugs))
    pairs = [(a, b) for i, a in enumerate(unique) for b in unique[i + 1 :]]
    return sum(interacts(a, b) for a, b in pairs), len(pairs)


def ddi_rate(sets: Iterable[Iterable[str]], interacts: Callable[[str, str], bool]) -> float:
    """The SafeDrug DDI rate: interacting pairs over all pairs, pooled over the sets."""
    found = total = 0
    for drugs in sets:
        bad, pairs = ddi_pairs(drugs, interacts)
        found += bad
        total += pairs
    return _ratio(found, total)


def ranking_metrics(scores: Sequence[float], labels: Sequence[int]) -> dict[str, float]:
    """AUROC and AUPRC (average precision) of scores against 0/1 labels (scikit-learn).

    ``nan`` when only one class is present.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(labels)) < 2:
        return {"auroc": math.nan, "auprc": math.nan}
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "auprc": float(average_precision_score(labels, scores)),
    }


def calibration(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 5
) -> dict[str, Any]:
    """Reliability bins and the expected calibration error (ECE).

    Bins are equal-width over [0, 1] (a confidence of 1.0 falls in the last one).

    Returns:
        ``bins``: per non-empty bin its ``lower`` edge, ``confidence`` (mean), ``accuracy``
        and ``count``; ``ece``: the count-weighted mean |accuracy - confidence|.
    """
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for conf, ok in zip(confidences, correct, strict=True):
        grouped.setdefault(min(int(conf * bins), bins - 1), []).append((conf, ok))
    rows, ece, n = [], 0.0, len(confidences)
    for index in sorted(grouped):
        items = grouped[index]
        mean_conf = sum(c for c, _ in items) / len(items)
        accuracy = sum(ok for _, ok in items) / len(items)
        ece += len(items) / n * abs(accuracy - mean_conf)
        rows.append(
            {
                "lower": index / bins,
                "confidence": mean_conf,
                "accuracy": accuracy,
                "count": len(items),
            }
        )
    return {"bins": rows, "ece": ece}


def latency(seconds: Sequence[float]) -> dict[str, float]:
    """Mean, median and 95th percentile (nearest rank) of per-item seconds."""
    if not seconds:
        return {"mean_s": 0.0, "p50_s": 0.0, "p95_s": 0.0}
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {"mean_s": sum(ordered) / len(ordered), "p50_s": rank(0.5), "p95_s": rank(0.95)}


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0 for no values."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0
