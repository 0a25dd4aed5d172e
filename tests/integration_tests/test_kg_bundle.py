"""The knowledge graph built from the real data bundle."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from kedrec_agent.config import Settings
from kedrec_agent.kg.build import build_store, count_triples
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph

pytestmark = pytest.mark.integration


def _drugs(rows: list) -> set[str]:  # type: ignore[type-arg]
    return {row.drug.local_id for row in rows}


def test_store_matches_its_build_report(bundle_settings: Settings) -> None:
    report = build_store(bundle_settings, progress=False)
    assert report.cached  # built once by the fixture (or by `kedrec setup`)
    assert count_triples(ox.Store.read_only(str(bundle_settings.kg_store_dir))) == report.triples
    # 89,249 subset + 1,334,889 DDI edge lines, all distinct in DRKG format.
    assert report.drkg_edges == 89_249 + 1_067_911 + 266_978


def test_imatinib_treats_cml(bundle_kg: KnowledgeGraph) -> None:
    assert "DB00619" in _drugs(bundle_kg.drugs_for_disease("MESH:D015464"))


def test_metformin_treats_type_2_diabetes(bundle_kg: KnowledgeGraph) -> None:
    rows = bundle_kg.drugs_for_disease("MESH:D003924")
    metformin = [r for r in rows if r.drug.local_id == "DB00331"]
    assert {r.relation for r in metformin} == {
        "DRUGBANK::treats::Compound:Disease",
        "Hetionet::CtD::Compound:Disease",
    }


def test_hetionet_doid_diseases_reachable_from_mesh(bundle_kg: KnowledgeGraph) -> None:
    # Every Hetionet DOID disease with a MeSH cross reference: its CtD drugs are found
    # when the disease is asked for by its MeSH id.
    checked = 0
    for doid in ("DOID:9352", "DOID:10763", "DOID:1612", "DOID:2531", "DOID:1324"):
        concept = bundle_kg.equivalences.concept(doid)
        mesh = sorted(i for i in concept.equivalents if i.startswith("MESH:"))
        if not mesh:
            continue
        by_mesh = bundle_kg.drugs_for_disease(mesh[0])
        hetionet = {r.drug.id for r in by_mesh if r.disease.local_id == doid}
        assert hetionet, f"no Hetionet edge of {doid} reached from {mesh[0]}"
        checked += 1
    assert checked >= 4


def test_warfarin_interactions_are_found(bundle_kg: KnowledgeGraph) -> None:
    found = bundle_kg.interactions_among(["DB00682", "DB00945", "DB00641", "DB01211"])
    pairs = {frozenset((i.drug_a.local_id, i.drug_b.local_id)) for i in found}
    assert frozenset(("DB00682", "DB00945")) in pairs  # warfarin + aspirin (ogbl-ddi extra)
    described = [i.description for i in found if i.description]
    assert any("Warfarin" in d for d in described)


def test_masked_gold_edges_are_invisible(bundle_kg: KnowledgeGraph) -> None:
    masked = bundle_kg.with_exclusions([("DB00619", "MESH:D015464"), ("DB00331", "DOID:9352")])
    assert "DB00619" not in _drugs(masked.drugs_for_disease("MESH:D015464"))
    assert "DB00619" not in _drugs(masked.drugs_for_disease("DOID:8552"))
    assert "DB00331" not in _drugs(masked.drugs_for_disease("MESH:D003924"))
    facts = masked.drug_facts("DB00619")
    assert "Disease::MESH:D015464" not in {i.disease.id for i in facts.indications}
    # The unmasked view is untouched.
    assert "DB00619" in _drugs(bundle_kg.drugs_for_disease("MESH:D015464"))


def test_mechanism_paths_on_the_bundle(bundle_kg: KnowledgeGraph) -> None:
    paths = bundle_kg.mechanism_paths("DB00619", "DOID:2531", limit=5)
    assert len(paths) == 5
    assert paths[0].score >= paths[-1].score
    assert {p.gene.label for p in paths} <= {g.gene.label for g in bundle_kg.drug_genes("DB00619")}
