"""The programmatic API's input handling (no stores needed)."""

from __future__ import annotations

from typing import Any

import pytest

from kedrec_agent.api import graph_input, make_context, recommend_batch
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients import PatientInput


def test_patients_of_every_form_become_graph_input() -> None:
    assert graph_input("  gout ") == {"patient": "gout", "record": {}}
    structured = {"conditions": ["DOID:9352"], "medications": ["warfarin"], "age": 70}
    assert graph_input(structured) == {"patient": "", "record": structured}
    both = PatientInput(text="on warfarin", conditions=["gout"], sex="male", source="fhir")
    assert graph_input(both) == {
        "patient": "on warfarin",
        "record": {"conditions": ["gout"], "sex": "male"},
    }


@pytest.mark.parametrize(
    "patient",
    ["", " ", "x" * 20_001, {}, {"conditions": ["gout"], "age": 999}, {"bogus": 1}, 3, None],
)
def test_bad_patients_are_clear_errors_without_their_values(patient: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        graph_input(patient)
    assert "999" not in str(info.value)


def test_settings_are_checked() -> None:
    assert make_context(top_k=2, exclusions=[["DB1", "MESH:D1"]]).exclusions == (
        ("DB1", "MESH:D1"),
    )
    with pytest.raises(InvalidInputError, match=r"Unknown setting.*known: .*top_k"):
        make_context(topk=2)
    with pytest.raises(InvalidInputError, match="checkpointer"):
        make_context(review=True)


class _Graph:
    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []

    def batch(self, inputs: list[dict[str, Any]], **kwargs: Any) -> list[Any]:
        self.inputs = inputs
        assert kwargs["config"] == {"max_concurrency": 2}
        return [RuntimeError("boom") for _ in inputs]


def test_one_bad_patient_does_not_stop_a_batch() -> None:
    graph = _Graph()
    results = recommend_batch(["gout", "", "asthma"], graph=graph, max_concurrency=2)
    assert [i["patient"] for i in graph.inputs] == ["gout", "asthma"]
    assert [r.abstained for r in results] == [True, True, True]
    assert results[1].reason.startswith("The patient record is invalid")
    assert results[0].reason == "The agent failed on this patient (RuntimeError)."
