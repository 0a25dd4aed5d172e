"""Numbered evidence items built from KG evidence and literature hits."""

from __future__ import annotations

from kedrec_agent.agent.evidence import reasoning_task
from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.models import Edge, Entity, MechanismPath
from kedrec_agent.literature.search import Hit
from kedrec_agent.reasoning.schema import PatientSummary


def _candidate(drug: str, label: str, taking: bool = False) -> CandidateDrug:
    entity = Entity(id=f"Compound::{drug}", label=label)
    disease = Entity(id="Disease::MESH:D015464", label="CML")
    return CandidateDrug(
        drug=entity,
        condition="MESH:D015464",
        via="indication",
        edges=[Edge(head=entity.id, relation="DRUGBANK::treats::Compound:Disease",
                    tail=disease.id)],
        paths=[MechanismPath(drug=entity, gene=Entity(id="Gene::25", label="ABL1"),
                             disease=disease, score=0.8)],
        already_taking=taking,
    )  # fmt: skip


def test_items_are_numbered_per_candidate_with_citations_and_priorities() -> None:
    kg = KGEvidence(
        candidates=[_candidate("DB00619", "Imatinib"), _candidate("DB00945", "Aspirin", True),
                    _candidate("DB00619", "Imatinib")],
        interactions=[],
    )  # fmt: skip
    hit = Hit(source="pubmed", external_id="123", chunk=0, title="T", snippet="S", score=0.9,
              why=[])  # fmt: skip
    task = reasoning_task(
        PatientSummary(conditions=["CML (MESH:D015464)"]),
        kg,
        {"DB00619": [hit]},
        {"MESH:D015464": "Chronic myeloid leukemia"},
    )
    assert [c.id for c in task.candidates] == ["DB00619"]  # already taken and repeats out
    assert [e.id for e in task.evidence] == ["E1", "E2", "E3"]
    fact, path, passage = task.evidence
    assert fact.text == (
        "Imatinib treats Chronic myeloid leukemia (DRUGBANK::treats::Compound:Disease)."
    )
    assert "ABL1" in path.text and path.priority == 2.8
    assert passage.citation == "PMID:123" and passage.text == "T: S"
    assert fact.priority > path.priority > passage.priority
