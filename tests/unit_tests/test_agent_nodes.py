"""Graph nodes as plain functions: the reason node's low-confidence flag."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from langgraph.runtime import Runtime

from kedrec_agent.agent import nodes
from kedrec_agent.agent.context import Context
from kedrec_agent.agent.state import State
from kedrec_agent.errors import ConfigError
from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.models import Edge, Entity


def _state() -> State:
    drug = Entity(id="Compound::DB00619", label="Imatinib")
    cand = CandidateDrug(
        drug=drug,
        condition="MESH:D015464",
        via="indication",
        edges=[Edge(head=drug.id, relation="DRUGBANK::treats::Compound:Disease",
                    tail="Disease::MESH:D015464")],
    )  # fmt: skip
    return State(
        patient="x",
        conditions=["MESH:D015464"],
        evidence=KGEvidence(candidates=[cand], interactions=[]).model_dump(),
    )


def _run(monkeypatch: pytest.MonkeyPatch, context: Context) -> dict[str, Any]:
    def no_model() -> None:
        raise ConfigError("no model here")

    monkeypatch.setattr(nodes, "load_model", no_model)
    monkeypatch.setattr(nodes, "get_linker", lambda: SimpleNamespace(name_of=lambda i: None))
    return nodes.reason(_state(), Runtime(context=context))


def test_missing_model_falls_back_and_low_confidence_is_flagged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    update = _run(monkeypatch, Context())
    rec = update["recommendation"]
    assert rec["fallback"] and "unavailable" in rec["problem"]
    assert [c["drug_id"] for c in rec["choices"]] == ["DB00619"]
    assert update["reasoning_evidence"][0]["id"] == "E1"
    assert any(note.startswith("Low confidence (0.20 < 0.30)") for note in update["notes"])
    assert "notes" not in _run(monkeypatch, Context(min_confidence=0.1))
    assert update["timings"]["reason"] >= 0
