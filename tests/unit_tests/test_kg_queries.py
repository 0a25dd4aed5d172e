"""Query templates on the tiny bundle: equivalences, masking, interactions, injection."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Literal

from kedrec_agent.config import Settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.kg import queries, vocab
from kedrec_agent.kg.build import count_triples
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.models import Row
from kedrec_agent.kg.store import bind_values

DRUGS = ["DB00619", "DB00331", "DB00682", "DB00945", "DB00641", "DB01211", "DB00415", "DB00338"]
DISEASES = ["MESH:D015464", "DOID:8552", "MESH:D003924", "DOID:9352", "MESH:D006973", "DOID:10763"]


def _drug_ids(rows: Sequence[Row]) -> set[str]:
    return {e.head.split("::")[1] for r in rows for e in r.edges if e.head.startswith("Compound")}


def test_imatinib_treats_cml(tiny_kg: KnowledgeGraph) -> None:
    rows = tiny_kg.drugs_for_disease("MESH:D015464")
    assert "DB00619" in _drug_ids(rows)
    imatinib = next(r for r in rows if r.drug.id == "Compound::DB00619")
    assert imatinib.drug.label == "Imatinib"
    assert imatinib.relation == "DRUGBANK::treats::Compound:Disease"


def test_doid_and_mesh_give_the_same_drugs(tiny_kg: KnowledgeGraph) -> None:
    by_mesh = tiny_kg.drugs_for_disease("MESH:D003924")
    by_doid = tiny_kg.drugs_for_disease("DOID:9352")
    assert by_mesh == by_doid
    relations = {r.relation for r in by_mesh if r.drug.id == "Compound::DB00331"}
    # DrugBank's MeSH edge and Hetionet's DOID edge both reach the one concept.
    assert relations == {"DRUGBANK::treats::Compound:Disease", "Hetionet::CtD::Compound:Disease"}


def test_masked_pair_is_invisible_everywhere(tiny_kg: KnowledgeGraph) -> None:
    masked = tiny_kg.with_exclusions([("DB00331", "DOID:9352")])
    assert "DB00331" in _drug_ids(tiny_kg.drugs_for_disease("MESH:D003924"))
    assert "DB00331" not in _drug_ids(masked.drugs_for_disease("MESH:D003924"))
    assert "DB00331" not in _drug_ids(masked.drugs_for_disease("DOID:9352"))
    facts = masked.drug_facts("DB00331")
    assert all(
        i.disease.id not in {"Disease::MESH:D003924", "Disease::DOID:9352"}
        for i in facts.indications
    )
    # Other indications of metformin stay visible: masking is per pair, not per drug.
    assert facts.indications


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(DRUGS), st.sampled_from(DISEASES)), min_size=1, max_size=4)
)
def test_no_template_returns_a_masked_edge(
    tiny_kg: KnowledgeGraph, pairs: list[tuple[str, str]]
) -> None:
    masked = tiny_kg.with_exclusions(pairs)
    blocked = {(d, tiny_kg.equivalences.canonical(x)) for d, x in pairs}
    rows: list[Row] = []
    for disease in DISEASES:
        rows += masked.drugs_for_disease(disease)
        rows += masked.disease_genes(disease)
    for drug in DRUGS:
        rows += [masked.drug_facts(drug), *masked.drug_facts(drug).indications]
        rows += masked.mechanism_paths(drug, "DOID:9352")
    rows += masked.interactions_among(DRUGS)
    for row in rows:
        for edge in row.edges:
            if edge.head.startswith("Compound::") and edge.tail.startswith("Disease::"):
                key = (edge.head[10:], tiny_kg.equivalences.canonical(edge.tail[9:]))
                assert key not in blocked


def test_typed_interaction_reads_in_the_right_direction(tiny_kg: KnowledgeGraph) -> None:
    found = tiny_kg.interactions_among(["DB00682", "DB00945"])
    described = [i.description for i in found if i.description]
    # ddi_typed: "DB00682 DB00945 5", type 5 has subject 2 -> drug1 fills #Drug2.
    assert described == [
        "Acetylsalicylic acid may increase the anticoagulant activities of Warfarin."
    ]
    assert {i.relation for i in found} >= {"DRUGBANK::ddi-interactor-in::Compound:Compound"}


def test_interactions_cover_every_pair(tiny_kg: KnowledgeGraph) -> None:
    drugs = ["DB00682", "DB00641", "DB01211"]
    found = tiny_kg.interactions_among(drugs)
    pairs = {frozenset((i.drug_a.local_id, i.drug_b.local_id)) for i in found}
    assert pairs == {frozenset(p) for p in itertools.combinations(drugs, 2)}


def test_mechanism_paths_are_bounded_and_ranked(tiny_kg: KnowledgeGraph) -> None:
    paths = tiny_kg.mechanism_paths("DB00641", "DOID:10763", limit=3)
    assert 0 < len(paths) <= 3
    assert [p.score for p in paths] == sorted((p.score for p in paths), reverse=True)
    for p in paths:
        assert p.edges[0].head == "Compound::DB00641" or p.edges[0].tail == "Compound::DB00641"
        assert p.gene.id in (p.edges[0].head, p.edges[0].tail)
        assert p.gene.id in (p.edges[1].head, p.edges[1].tail)


def test_mechanism_paths_join_finds_every_two_hop_path(tiny_kg: KnowledgeGraph) -> None:
    found = 0
    for drug, disease in itertools.product(DRUGS, DISEASES):
        rows = tiny_kg._select(
            queries.MECHANISM_PATHS_REFERENCE,
            drug=vocab.entity_iri(f"Compound::{drug}"),
            concept=tiny_kg.concept_iri(disease),
        )
        expected = {
            (str(r.gene), str(r.r1), str(r.f1), str(r.disease), str(r.r2), str(r.f2)) for r in rows
        }
        paths = tiny_kg.mechanism_paths(drug, disease, limit=500)
        # one path per (gene, disease), the best-scored pair of edges, from the expected set
        assert {(vocab.entity_iri(p.gene.id), vocab.entity_iri(p.disease.id)) for p in paths} == {
            (g, d) for g, _, _, d, _, _ in expected
        }
        found += len(paths)
    assert found  # the tiny graph has paths to compare


def test_disease_genes_and_symptoms(tiny_kg: KnowledgeGraph) -> None:
    genes = tiny_kg.disease_genes("MESH:D003924", limit=5)
    assert len(genes) == 5 and all(g.gene.id.startswith("Gene::") for g in genes)
    symptoms = tiny_kg.disease_symptoms("MESH:D003924")
    assert symptoms and all(s.symptom.id.startswith("Symptom::") for s in symptoms)


@pytest.mark.parametrize(
    "bad", ['x" } DROP ALL ; #', "DB0061", "", "MESH:D015464> } ", "Compound::DB00619"]
)
def test_malformed_ids_are_rejected_and_change_nothing(
    tiny_kg: KnowledgeGraph, tiny_settings: Settings, bad: str
) -> None:
    import pyoxigraph as ox

    before = count_triples(ox.Store.read_only(str(tiny_settings.kg_store_dir)))
    with pytest.raises(InvalidInputError):
        tiny_kg.drugs_for_disease(bad)
    with pytest.raises(InvalidInputError):
        tiny_kg.drug_genes(bad)
    with pytest.raises(InvalidInputError):
        tiny_kg.with_exclusions([(bad, "MESH:D015464")])
    assert count_triples(ox.Store.read_only(str(tiny_settings.kg_store_dir))) == before


def test_store_is_read_only(tiny_kg: KnowledgeGraph) -> None:
    with pytest.raises(Exception, match="read"):
        tiny_kg.graph.update("DROP ALL")
    assert tiny_kg.drugs_for_disease("MESH:D015464")


def test_bound_values_are_escaped_terms() -> None:
    query = "SELECT ?x WHERE { ?x ?p ?o }"
    bound = bind_values(query, {"o": Literal('x" } DROP ALL ; #')}, lambda t: t.n3())
    assert bound.startswith('SELECT ?x WHERE { VALUES (?o) { ("x\\" } DROP ALL ; #") }')


def test_too_many_drugs_for_interactions(tiny_kg: KnowledgeGraph) -> None:
    with pytest.raises(InvalidInputError, match="At most"):
        tiny_kg.interactions_among([f"DB{i:05d}" for i in range(60)])
