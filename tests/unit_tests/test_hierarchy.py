"""MeSH disease trees: relatedness scores, shared headings, related indications of drugs."""

from __future__ import annotations

from pathlib import Path

from kedrec_agent.kg.hierarchy import EMPTY, DiseaseHierarchy, Relatedness, load_hierarchy
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from training.evaluation.exprxrec import lineage_masked
from training.tasks.schema import Task, TaskCandidate

TREE = DiseaseHierarchy(
    {
        "MESH:D1": ["C06.405.117.316"],  # peptic oesophagitis
        "MESH:D2": ["C06.405.117.119.500"],  # reflux
        "MESH:D3": ["C06.405.117"],  # oesophageal diseases (the parent heading)
        "MESH:D4": ["C14.907.489", "C06.552"],  # in two trees
        "MESH:D5": ["C10.228"],
    },
    {"C06.405.117": "Esophageal Diseases", "C06": "Digestive System Diseases"},
)


def test_siblings_share_their_parent_heading() -> None:
    assert TREE.relation("MESH:D1", "MESH:D2") == Relatedness(0.6, "Esophageal Diseases")
    assert TREE.relation("MESH:D2", "MESH:D1") == TREE.relation("MESH:D1", "MESH:D2")


def test_a_parent_is_closer_than_a_cousin() -> None:
    parent = TREE.relation("MESH:D1", "MESH:D3")
    assert parent.score == 0.75 and parent.ancestor == "Esophageal Diseases"
    cousin = TREE.relation("MESH:D1", "MESH:D4")  # only C06 in common, through its 2nd tree
    assert cousin == Relatedness(0.25, "Digestive System Diseases")
    assert parent.score > cousin.score > 0


def test_unrelated_unknown_and_doid_ids_score_zero() -> None:
    assert TREE.relation("MESH:D1", "MESH:D5") == Relatedness(0.0, None)
    assert TREE.relation("MESH:D1", "DOID:9352") == Relatedness(0.0, None)
    assert TREE.relation("MESH:D9", "MESH:D1").score == 0.0
    assert EMPTY.relation("MESH:D1", "MESH:D2").score == 0.0


def test_equivalent_ids_are_tried_together() -> None:
    assert TREE.relation(["DOID:1", "MESH:D1"], {"MESH:D5", "MESH:D2"}).score == 0.6


def test_file_keeps_only_the_disease_trees(tmp_path: Path) -> None:
    path = tmp_path / "mesh_tree_numbers.tsv"
    path.write_text(
        "mesh_id\tmesh_name\tmesh_tree_number\n"
        "D1\tDisease one\tC01.100\nD2\tDisease two\tC01.200\n"
        "D3\tA chemical\tD02.100\nD4\tA disorder\tF03.100\n"
    )
    tree = DiseaseHierarchy.from_file(path)
    assert "MESH:D1" in tree and "MESH:D4" in tree and "MESH:D3" not in tree
    assert tree.relation("MESH:D1", "MESH:D2") == Relatedness(0.5, None)  # C01 unnamed here
    assert load_hierarchy(tmp_path / "missing.tsv") is EMPTY


def test_related_indications_leave_the_disease_itself_out(tiny_kg: KnowledgeGraph) -> None:
    # DB00178 treats diabetes mellitus (the parent heading of type 2 diabetes),
    # hypertension, and type 2 diabetes itself under its DOID id.
    related = tiny_kg.related_indications("DB00178", "MESH:D003924")
    by_disease = {r.disease.local_id: r for r in related}
    assert "DOID:9352" not in by_disease and "MESH:D003924" not in by_disease
    diabetes = by_disease["MESH:D003920"]
    assert diabetes.score == 0.8 and diabetes.ancestor == "Diabetes Mellitus"
    assert related[0] == diabetes  # the most related first
    hypertension = [r for r in related if r.disease.local_id in {"MESH:D006973", "DOID:10763"}]
    assert len(hypertension) == 1 and hypertension[0].score == 0.0  # one per concept
    assert all(r.edges and r.edges[0].head == "Compound::DB00178" for r in related)


def test_related_indications_respect_the_mask(tiny_kg: KnowledgeGraph) -> None:
    masked = tiny_kg.with_exclusions([("DB00178", "MESH:D003920")])
    related = masked.related_indications("DB00178", "MESH:D003924")
    assert "MESH:D003920" not in {r.disease.local_id for r in related}
    assert masked.hierarchy is tiny_kg.hierarchy


def test_lineage_is_the_ancestors_and_descendants_not_siblings() -> None:
    assert TREE.lineage("MESH:D1") == {"MESH:D3"}  # D2 is a sibling, D4 a cousin
    assert TREE.lineage("MESH:D3") == {"MESH:D1", "MESH:D2"}
    assert TREE.lineage(["DOID:1", "MESH:D3"]) == {"MESH:D1", "MESH:D2"}
    assert TREE.lineage("DOID:1") == set() and EMPTY.lineage("MESH:D1") == set()


def test_lineage_masking_hides_the_parent_heading_indication(tiny_kg: KnowledgeGraph) -> None:
    task = Task(
        task_id="t",
        split="dev",
        disease="MESH:D003924",
        disease_name="Diabetes Mellitus, Type 2",
        positive="DB00178",
        source="drugbank",
        candidates=[
            TaskCandidate(id="DB00178", name="Ramipril", negative="positive"),
            TaskCandidate(id="DB00619", name="Imatinib", negative="random"),
        ],
        exclusions=[("DB00178", "MESH:D003924")],
    )
    (strict,) = lineage_masked([task], tiny_kg)
    assert strict.exclusions[0] == task.exclusions[0] and len(strict.exclusions) > 1

    def related(t: Task) -> set[str]:
        kg = tiny_kg.with_exclusions(t.exclusions)
        return {r.disease.local_id for r in kg.related_indications("DB00178", t.disease)}

    assert "MESH:D003920" in related(task)  # the parent heading: shown by default
    assert "MESH:D003920" not in related(strict)
    assert related(strict), "unrelated indications (hypertension) stay visible"


def test_only_a_top_level_heading_is_a_category() -> None:
    tree = DiseaseHierarchy({"MESH:D009369": ["C04"], "MESH:D1": ["C04", "C06.405"]}, {})
    assert tree.is_category("MESH:D009369")  # Neoplasms
    assert tree.is_category(["DOID:162", "MESH:D009369"])  # with an id without a tree
    assert not tree.is_category("MESH:D1")  # also a specific heading
    assert not TREE.is_category("MESH:D3") and not TREE.is_category("DOID:162")


def test_narrower_headings_are_those_below_only() -> None:
    assert TREE.narrower("MESH:D3") == {"MESH:D1", "MESH:D2"}
    assert TREE.narrower("MESH:D1") == set()  # its parent is broader, not narrower


def test_under_is_the_heading_itself_or_below() -> None:
    assert TREE.under("MESH:D2", "MESH:D3") and TREE.under("MESH:D3", "MESH:D3")
    assert TREE.under(["MESH:D9", "MESH:D1"], "MESH:D3")  # one of its equivalents
    assert not TREE.under("MESH:D3", "MESH:D1") and not TREE.under("MESH:D5", "MESH:D3")
    assert not TREE.under("MESH:D1", "MESH:D404")  # an ancestor without tree numbers
