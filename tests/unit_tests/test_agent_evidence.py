"""Numbered evidence items built from KG evidence and literature hits."""

from __future__ import annotations

import pytest

from kedrec_agent.agent.evidence import (
    mechanism_item,
    path_topic,
    reasoning_task,
    related_item,
)
from kedrec_agent.kg.evidence import CandidateDrug, KGEvidence
from kedrec_agent.kg.models import Edge, Entity, MechanismPath, RelatedIndication
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.reasoning.gate import evidence_facts
from kedrec_agent.reasoning.output import fallback
from kedrec_agent.reasoning.ranking import PER_ITEM, evidence_weights, ranked_candidates
from kedrec_agent.reasoning.schema import (
    Candidate,
    EntityRef,
    Evidence,
    PatientView,
    ReasoningTask,
)

TABLES = DrugTables()
"""No pharmacologic classes: the items tested here alone."""


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
        PatientView(conditions=[EntityRef(id="MESH:D015464", name="CML")]),
        kg,
        {"DB00619": [hit]},
        {"MESH:D015464": "Chronic myeloid leukemia"},
        tables=DrugTables(),
    )
    assert [c.id for c in task.candidates] == ["DB00619"]  # already taken and repeats out
    assert [e.id for e in task.evidence] == ["E1", "E2", "E3"]
    fact, path, passage = task.evidence
    assert [e.topic for e in task.evidence] == ["indication", "mechanism", "literature"]
    assert fact.text == (
        "Imatinib treats Chronic myeloid leukemia (DRUGBANK::treats::Compound:Disease)."
    )
    assert "ABL1" in path.text and path.priority == 2.8
    assert passage.citation == "PMID:123" and passage.text == "T: S"
    assert fact.priority > path.priority > passage.priority


def _path(relation: str, disease_relation: str, actions: list[str]) -> MechanismPath:
    drug = Entity(id="Compound::DB01132", label="Pioglitazone")
    gene = Entity(id="Gene::5468", label="PPARG")
    disease = Entity(id="Disease::DOID:9352", label="type 2 diabetes mellitus")
    return MechanismPath(
        drug=drug,
        gene=gene,
        disease=disease,
        score=1.0,
        actions=actions,
        edges=[
            Edge(head=drug.id, relation=relation, tail=gene.id),
            Edge(head=disease.id, relation=disease_relation, tail=gene.id),
        ],
    )


@pytest.mark.parametrize(
    ("relation", "actions", "verb"),
    [
        ("DRUGBANK::target::Compound:Gene", ["AGONIST"], "increases activity of"),
        ("DRUGBANK::target::Compound:Gene", ["INHIBITOR", "ANTAGONIST"], "decreases activity of"),
        ("DRUGBANK::target::Compound:Gene", ["AGONIST", "ANTAGONIST"], "modulates"),
        ("DRUGBANK::target::Compound:Gene", ["BINDER"], "binds"),
        ("DRUGBANK::target::Compound:Gene", [], "targets"),
        ("DRUGBANK::enzyme::Compound:Gene", [], "is metabolised by"),  # not the drug's action
        ("DGIDB::OTHER::Gene:Compound", [], "interacts with"),
    ],
)
def test_a_mechanism_path_says_what_the_drug_does_to_the_gene(
    relation: str, actions: list[str], verb: str
) -> None:
    text = mechanism_item(_path(relation, "Hetionet::DaG::Disease:Gene", actions), "Pioglitazone")
    assert text == (
        f"Pioglitazone {verb} PPARG ({relation}); PPARG is associated with type 2 diabetes "
        "mellitus (Hetionet::DaG::Disease:Gene)."
    )


def test_a_path_through_an_enzyme_of_the_drug_is_kinetics_not_mechanism() -> None:
    enzyme = _path("DRUGBANK::enzyme::Compound:Gene", "Hetionet::DaG::Disease:Gene", [])
    target = _path("DRUGBANK::target::Compound:Gene", "Hetionet::DaG::Disease:Gene", [])
    assert (path_topic(enzyme), path_topic(target)) == ("kinetics", "mechanism")
    cand = _candidate("DB01132", "Pioglitazone")
    cand.paths = [enzyme]
    task = reasoning_task(PatientView(), KGEvidence(candidates=[cand], interactions=[]), {},
                          {"MESH:D015464": "CML"}, tables=TABLES)  # fmt: skip
    assert [e.topic for e in task.evidence] == ["indication", "kinetics"]
    assert "metabolised" not in evidence_facts(task.evidence)  # a summary says how it acts


def test_a_mechanism_path_says_how_the_gene_relates_to_the_disease() -> None:
    path = _path("DRUGBANK::target::Compound:Gene", "Hetionet::DuG::Disease:Gene", ["AGONIST"])
    assert "; PPARG is up-regulated in type 2 diabetes mellitus (" in mechanism_item(path, "P")


def test_each_candidate_gets_its_named_pharmacologic_classes() -> None:
    rows = [("DB00619", "EPC:N1"), ("DB00619", "MoA:N2"), ("DB00619", "ATC:L01XE")]
    rows += [(f"DB9{n:04d}", "EPC:N1") for n in range(70)]  # a broad class is still named
    tables = DrugTables.from_rows(rows, {"EPC:N1": "Kinase Inhibitor", "MoA:N2": "Kinase X"})
    assert "EPC:N1" not in tables.classes_of("DB00619")  # too broad for the ranker
    cand = _candidate("DB00619", "Imatinib")
    task = reasoning_task(PatientView(), KGEvidence(candidates=[cand], interactions=[]), {},
                          {"MESH:D015464": "CML"}, tables=tables)  # fmt: skip
    (item,) = [e for e in task.evidence if "pharmacologic class" in e.text]
    assert item.text == (
        "Imatinib: pharmacologic class Kinase Inhibitor (FDA EPC); mechanism of action "
        "Kinase X (FDA MoA); ATC L01XE."
    )
    assert item.priority < min(e.priority for e in task.evidence if e is not item)
    bare = reasoning_task(PatientView(), KGEvidence(candidates=[cand], interactions=[]), {},
                          {"MESH:D015464": "CML"}, tables=TABLES)  # fmt: skip
    assert len(bare.evidence) == len(task.evidence) - 1


def test_an_indication_for_another_of_the_patients_conditions_is_an_item() -> None:
    cand = _candidate("DB00619", "Imatinib")
    cand.also_treats = ["MESH:D046152"]
    names = {"MESH:D015464": "Chronic myeloid leukemia", "MESH:D046152": "GIST"}
    task = reasoning_task(
        PatientView(), KGEvidence(candidates=[cand], interactions=[]), {}, names, tables=TABLES
    )
    (item,) = [e for e in task.evidence if "also" in e.text]
    assert item.text == "Imatinib is also indicated for GIST, which the patient has."
    assert item.drugs == ["DB00619"] and item.priority == 3.0


def _related(drug: Entity, disease: str, label: str, score: float) -> RelatedIndication:
    return RelatedIndication(
        drug=drug,
        disease=Entity(id=f"Disease::{disease}", label=label),
        relation="DRUGBANK::treats::Compound:Disease",
        score=score,
        ancestor="Esophageal Diseases" if score else None,
    )


def test_related_indications_become_one_item_ranked_below_a_direct_indication() -> None:
    drug = Entity(id="Compound::DB05351", label="Dexlansoprazole")
    cand = CandidateDrug(drug=drug, condition="MESH:D004942", via="mechanism",
                         related=[_related(drug, "MESH:D005764", "Reflux", 0.6),
                                  _related(drug, "MESH:D006623", "Heartburn", 0.0)],
                         other_indications=2)  # fmt: skip
    text, priority = related_item(cand, "Peptic esophagitis") or ("", 0.0)
    assert text == (
        "Dexlansoprazole is indicated for Reflux, related to Peptic esophagitis (both under "
        "Esophageal Diseases in MeSH); 2 known indication(s) for other diseases."
    )
    assert priority == 2.0 + 0.9 * 0.6 + 2 / 200 and 2.0 < priority < 3.0
    unrelated = cand.model_copy(update={"related": cand.related[1:]})
    text, low = related_item(unrelated, "Peptic esophagitis") or ("", 0.0)
    assert "none related to Peptic esophagitis" in text and "Heartburn" in text
    assert 2.0 <= low < priority
    assert related_item(cand.model_copy(update={"other_indications": 0}), "x") is None
    task = reasoning_task(PatientView(), KGEvidence(candidates=[cand], interactions=[]),
                          {}, {"MESH:D004942": "Peptic esophagitis"}, tables=TABLES)  # fmt: skip
    assert [(e.kind, e.drugs) for e in task.evidence] == [("kg", ["DB05351"])]


def test_the_strongest_evidence_outranks_many_passages() -> None:
    def item(n: int, drug: str, priority: float) -> Evidence:
        return Evidence(id=f"E{n}", kind="kg", drugs=[drug], text="t", priority=priority)

    task = ReasoningTask(
        patient=PatientView(),
        candidates=[Candidate(id="DB00001", name="A"), Candidate(id="DB00002", name="B"),
                    Candidate(id="DB00003", name="C")],
        evidence=[item(1, "DB00001", 1.9), item(2, "DB00001", 1.8), item(3, "DB00001", 1.7),
                  item(4, "DB00002", 2.5), item(5, "DB00002", 1.5)],
        max_choices=3,
    )  # fmt: skip
    weights = evidence_weights(task)
    assert weights == pytest.approx({"DB00001": 1.9 + 0.3, "DB00002": 2.5 + 0.2, "DB00003": 0.0})
    ranked = fallback(task, "test")
    assert [c.drug_id for c in ranked.choices] == ["DB00002", "DB00001"]  # C has none
    assert ranked.choices[1].evidence_ids == ["E1", "E2", "E3"]


def _ranked(weights: dict[str, float], major: set[str]) -> list[str]:
    task = ReasoningTask(
        patient=PatientView(),
        candidates=[
            Candidate(id=d, name=d, interaction="major" if d in major else "moderate")
            for d in weights
        ],
        evidence=[
            Evidence(id=f"E{n}", kind="kg", text="t", drugs=[d], priority=w - PER_ITEM)
            for n, (d, w) in enumerate(weights.items(), 1)
        ],
    )
    return [c.id for c in ranked_candidates(task)]


def test_a_major_interaction_ranks_behind_a_similarly_supported_alternative() -> None:
    weights = {"DB1": 3.0, "DB2": 2.9, "DB3": 1.0}
    assert _ranked(weights, set()) == ["DB1", "DB2", "DB3"]
    assert _ranked(weights, {"DB1"}) == ["DB2", "DB1", "DB3"]  # DB2 is similarly supported
    assert _ranked({"DB1": 3.0, "DB3": 1.0}, {"DB1"}) == ["DB1", "DB3"]  # DB3 is not
    assert _ranked({"DB1": 3.0, "DB2": 2.0, "DB3": 1.6}, {"DB1"}) == ["DB2", "DB3", "DB1"]
    assert _ranked(weights, {"DB1", "DB2"}) == ["DB1", "DB2", "DB3"]  # no safe alternative


def test_the_clinical_order_beats_the_amount_of_evidence_when_the_graph_ranked() -> None:
    weights = {"DB1": 3.5, "DB2": 3.2, "DB3": 3.4}  # DB2: fewer items, but first clinically
    task = ReasoningTask(
        patient=PatientView(),
        candidates=[Candidate(id=d, name=d, rank=r) for r, d in enumerate(["DB2", "DB1", "DB3"])],
        evidence=[
            Evidence(id=f"E{n}", kind="kg", text="t", drugs=[d], priority=w - PER_ITEM)
            for n, (d, w) in enumerate(weights.items(), 1)
        ],
    )
    assert [c.id for c in ranked_candidates(task)] == ["DB2", "DB1", "DB3"]
    task.candidates[0].interaction = "major"  # DB2: behind its similarly supported alternatives
    assert [c.id for c in ranked_candidates(task)] == ["DB1", "DB3", "DB2"]
