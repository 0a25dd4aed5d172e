"""Metric functions of the evaluation harness, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from training.evaluation.metrics import (
    Outcome,
    average_precision,
    calibration,
    citation_metrics,
    ddi_pairs,
    ddi_rate,
    latency,
    ranking_metrics,
    rouge,
    selection_metrics,
    set_metrics,
)

ABC = ("A", "B", "C")


def test_selection_metrics_by_hand() -> None:
    # right, wrong, abstained. Candidate decisions: tp 1, fp 1, fn 2, tn 5.
    got = selection_metrics(
        [Outcome("A", "A", ABC), Outcome("B", "A", ABC), Outcome(None, "C", ABC)]
    )
    assert got["accuracy"] == pytest.approx(1 / 3)
    assert got["precision"] == pytest.approx(1 / 2)
    assert got["recall"] == pytest.approx(1 / 3)
    assert got["f1"] == pytest.approx(0.4)
    # F1(yes) = 0.4; F1(no): P = 5/7, R = 5/6 -> 10/13.
    assert got["macro_f1"] == pytest.approx((0.4 + 10 / 13) / 2)
    assert got["abstention"] == pytest.approx(1 / 3)


def test_selection_without_abstention_precision_recall_equal_accuracy() -> None:
    got = selection_metrics([Outcome("A", "A", ABC), Outcome("C", "B", ABC)])
    assert got["accuracy"] == got["precision"] == got["recall"] == got["f1"] == 0.5


def test_empty_selection_is_zero_not_an_error() -> None:
    assert selection_metrics([])["accuracy"] == 0.0


def test_rouge_by_hand() -> None:
    got = rouge("the cat sat", "the cat ran")
    assert got["rouge1"] == pytest.approx(2 / 3)  # 2 of 3 words each way
    assert got["rouge2"] == pytest.approx(1 / 2)  # "the cat" of two bigrams
    assert got["rougeL"] == pytest.approx(2 / 3)  # LCS "the cat"
    assert rouge("inhibits", "inhibiting")["rouge1"] == 1.0  # stemmed


def test_citation_metrics_by_hand() -> None:
    got = citation_metrics(cited=[2, 0, 1], hallucinated=[0, 1, 0])
    assert got["citation_precision"] == pytest.approx(3 / 4)
    assert got["hallucinated_id_rate"] == pytest.approx(1 / 3)


def test_set_metrics_by_hand() -> None:
    got = set_metrics(["a", "b", "c"], ["b", "c", "d", "e"])
    assert got["jaccard"] == pytest.approx(2 / 5)
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(1 / 2)
    assert got["f1"] == pytest.approx(4 / 7)
    assert set_metrics([], ["a"]) == {"jaccard": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_average_precision_by_hand() -> None:
    # gold at ranks 2 and 4 (precision 1/2 and 2/4); x never ranked.
    assert average_precision(["a", "b", "c", "d"], {"b", "d", "x"}) == pytest.approx(1 / 3)
    assert average_precision(["a"], set()) == 0.0


def test_ddi_rate_pools_pairs_over_sets() -> None:
    bad = {frozenset(("a", "b")), frozenset(("a", "d"))}

    def interacts(x: str, y: str) -> bool:
        return frozenset((x, y)) in bad

    assert ddi_pairs(["a", "b", "c", "a"], interacts) == (1, 3)  # duplicates count once
    assert ddi_rate([["a", "b", "c"], ["a", "d"]], interacts) == pytest.approx(2 / 4)
    assert ddi_rate([["a"]], interacts) == 0.0


def test_ranking_metrics_by_hand() -> None:
    got = ranking_metrics([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
    assert got["auroc"] == pytest.approx(3 / 4)  # 3 of 4 (pos, neg) pairs ordered
    assert got["auprc"] == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(ranking_metrics([0.1, 0.2], [1, 1])["auroc"])


def test_calibration_by_hand() -> None:
    got = calibration([0.1, 0.15, 0.9, 1.0], [False, True, True, True], bins=5)
    assert [(b["lower"], b["count"]) for b in got["bins"]] == [(0.0, 2), (0.8, 2)]
    assert got["bins"][0]["confidence"] == pytest.approx(0.125)
    assert got["bins"][0]["accuracy"] == pytest.approx(0.5)
    assert got["ece"] == pytest.approx(0.5 * 0.375 + 0.5 * 0.05)


def test_latency_nearest_rank() -> None:
    assert latency([4.0, 1.0, 3.0, 2.0]) == {"mean_s": 2.5, "p50_s": 2.0, "p95_s": 4.0}
    assert latency([])["mean_s"] == 0.0
