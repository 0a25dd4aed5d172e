"""Graph nodes as plain functions: the reason node's low-confidence flag, literature gaps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from langgraph.runtime import Runtime

from kedrec_agent.agent import nodes
from kedrec_agent.agent.context import Context
from kedrec_agent.agent.state import State
from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError, UnknownEntityError
from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.models import Edge, Entity
from kedrec_agent.literature.search import Hit
from kedrec_agent.services import Services


def _state() -> State:
    drug = Entity(id="Compound::DB00619", label="Imatinib")
    cand = CandidateDrug(
        drug=drug,
        condition="MESH:D015464",
        via="indication",
        edges=[Edge(head=drug.id, relation="DRUGBANK::treats::Compound:Disease",
                    tail="Disease::MESH:D015464")],
    )  # fmt: skip
    evidence = KGEvidence(candidates=[cand], interactions=[]).model_dump()
    return State(patient="x", conditions=["MESH:D015464"], evidence=evidence, usable=evidence)


def _services(**given: Any) -> Services:
    linker: Any = SimpleNamespace(name_of=lambda i: None)
    return Services(Settings(data_dir=Path("."), home=Path(".")), linker=linker, **given)


def _run(context: Context) -> dict[str, Any]:
    services = _services(model=ConfigError("no model here"))
    return nodes.reason(_state(), Runtime(context=context), services)


def test_missing_model_falls_back_and_low_confidence_is_flagged() -> None:
    update = _run(Context())
    rec = update["recommendation"]
    assert rec["fallback"] and "unavailable" in rec["problem"]
    assert [c["drug_id"] for c in rec["choices"]] == ["DB00619"]
    assert update["reasoning_evidence"][0]["id"] == "E1"
    assert any(note.startswith("Low confidence (0.20 < 0.30)") for note in update["notes"])
    assert update["notes"][0].startswith("Reasoning model unavailable (no model here)")
    assert _run(Context(min_confidence=0.1))["notes"] == update["notes"][:1]  # not low
    assert update["timings"]["reason"] > 0
    assert update["model_recommendation"] == rec  # no safety check has run yet


def test_a_candidate_the_linker_cannot_name_loses_only_its_own_passages() -> None:
    hit = Hit(source="pubmed", external_id="1", chunk=0, title="T", snippet="S", score=0.5,
              why=[])  # fmt: skip

    class Search:
        def search_pair(self, drug: str, disease: str, k: int) -> list[Hit]:
            if drug == "DB99999":
                raise UnknownEntityError(drug, "drug")
            return [hit]

    state = _state()
    unknown = CandidateDrug(drug=Entity(id="Compound::DB99999"), condition="MESH:D015464",
                            via="mechanism")  # fmt: skip
    evidence = KGEvidence.model_validate(state.evidence)
    evidence.candidates.insert(0, unknown)  # first: it must not stop the others
    state.usable = evidence.model_dump()
    search: Any = Search()
    update = nodes.literature(state, Runtime(context=Context()), _services(literature=search))
    assert update["literature"] == {"DB99999": [], "DB00619": [hit.model_dump()]}
    assert update["notes"] == [
        "1 candidate(s) have no name the literature search knows; no passages were searched "
        "for them."
    ]
