"""Task building (training/tasks/) and the drug embedding (training/tasks/kg_embedding.py).

Runs on the tiny committed bundle (``tiny_settings``: 8 named drugs) with a few lines of
indications, rationales and disease lists written to a temporary folder.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from kedrec_agent.config import Settings
from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import Linker
from training.tasks.build import _name_equivalent, _words, build_tasks
from training.tasks.files import read_tasks, write_tasks
from training.tasks.inputs import read_diseases, read_indications, read_rationales
from training.tasks.kg_embedding import DrugEmbedding, cache_path
from training.tasks.schema import Task
from training.tasks.summary import TaskList, summarize_tasks

HEADER = "doid_id\tdrugbank_id\tdisease\tdrug\tcategory\tn_curators\tn_resources\tdisease_key"
INDICATIONS = [
    # Aspirin "treats" CML only according to this file: an indication all the same.
    "DOID:8552\tDB00945\tCML\tAspirin\tDM\t1\t1\tMESH:D015464",
    "DOID:8552\tDB00682\tCML\tWarfarin\tNOT\t3\t0\tMESH:D015464",
    "DOID:9352\tDB00331\ttype 2 diabetes mellitus\tMetformin\tDM\t3\t4\tMESH:D003924",
    "DOID:9352\tDB01211\ttype 2 diabetes mellitus\tClarithromycin\tNOT\t3\t0\tMESH:D003924",
    # A NOT pair that the KG contradicts (metformin treats T2D): never a negative.
    "DOID:9352\tDB00331\ttype 2 diabetes mellitus\tMetformin\tNOT\t1\t0\tMESH:D003924",
]
IMATINIB_PATH = {
    "path_id": "DB00619_MESH_D015464_1",
    "drugbank_id": "DB00619",
    "drug": "imatinib",
    "disease_mesh": "D015464",
    "disease": "CML (ph+)",
    "rationale_text": "imatinib decreases activity of BCR/ABL; BCR/ABL causes CML (ph+).",
    "nodes": [
        {"id": "MESH:D000068877", "label": "Drug", "name": "imatinib"},
        {"id": "UniProt:P00519", "label": "Protein", "name": "BCR/ABL"},
        {"id": "MESH:D015464", "label": "Disease", "name": "CML (ph+)"},
    ],
    "links": [
        {"key": "decreases activity of", "source": "MESH:D000068877", "target": "UniProt:P00519"},
        {"key": "causes", "source": "UniProt:P00519", "target": "MESH:D015464"},
    ],
    "disease_key": "MESH:D015464",
}
SALT_PATH = {**IMATINIB_PATH, "drugbank_id": "DBSALT001045"}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "diseases": _write(
            tmp_path / "diseases_train.txt",
            [
                "# CML, T2D (by its DOID), Barrett's esophagus",
                "MESH:D015464",
                "DOID:9352",
                "",
                "MESH:D001471",
            ],
        ),
        "indications": _write(tmp_path / "indications.tsv", [HEADER, *INDICATIONS]),
        "rationales": _write(
            tmp_path / "paths.jsonl", [json.dumps(IMATINIB_PATH), json.dumps(SALT_PATH)]
        ),
        "dev": _write(tmp_path / "diseases_dev.txt", ["MESH:D006973"]),
    }


def _build(
    files: dict[str, Path], settings: Settings, diseases: Path | None = None, **kwargs: object
) -> list[Task]:
    return build_tasks(
        diseases or files["diseases"],
        files["indications"],
        files["rationales"],
        settings=settings,
        **kwargs,  # type: ignore[arg-type]
    )


def _indications(kg: KnowledgeGraph, files: dict[str, Path], disease: str) -> set[str]:
    """Every drug known to treat ``disease``: KG indication edges and the two files."""
    drugs = {row.drug.local_id for row in kg.drugs_for_disease(disease)}
    canonical = kg.equivalences.canonical
    for ind in read_indications(files["indications"]):
        if ind.category != "NOT" and canonical(ind.disease) == disease:
            drugs.add(ind.drug)
    for path in read_rationales(files["rationales"]):
        if canonical(path.disease) == disease:
            drugs.add(path.drug)
    return drugs


# --- positives, negatives, exclusions -------------------------------------------------------


def test_tasks_have_the_preferred_positives(
    files: dict[str, Path], tiny_settings: Settings, tiny_linker: Linker
) -> None:
    tasks = _build(files, tiny_settings, negatives=2)
    by_id = {t.task_id: t for t in tasks}
    assert list(by_id) == [
        "MESH:D015464|DB00619|0",  # DrugMechDB first
        "MESH:D015464|DB00945|0",  # then PharmacotherapyDB DM
        "MESH:D003924|DB00331|0",  # the DOID in the list was canonicalised
        "MESH:D001471|DB00338|0",  # KG: DB06246 (DrugBank) and DB00736 have no name
    ]
    imatinib = by_id["MESH:D015464|DB00619|0"]
    assert imatinib.source == "drugmechdb"
    assert imatinib.rationale == IMATINIB_PATH["rationale_text"]
    assert imatinib.mechanism == [
        "imatinib decreases activity of BCR/ABL",
        "BCR/ABL causes CML (ph+)",
    ]
    assert by_id["MESH:D015464|DB00945|0"].source == "pharmacotherapydb:DM"
    assert by_id["MESH:D015464|DB00945|0"].rationale is None
    assert by_id["MESH:D003924|DB00331|0"].source == "pharmacotherapydb:DM"
    assert by_id["MESH:D001471|DB00338|0"].source == "hetionet"
    for task in tasks:
        assert task.split == "train"
        assert task.disease_name == tiny_linker.name_of(task.disease)
        assert [c.id for c in task.candidates if c.negative == "positive"] == [task.positive]
        assert len(task.candidates) == 3
        assert len({c.id for c in task.candidates}) == 3
        for candidate in task.candidates:
            assert candidate.name == tiny_linker.name_of(candidate.id)


def test_per_disease_caps_the_tasks(files: dict[str, Path], tiny_settings: Settings) -> None:
    tasks = _build(files, tiny_settings, negatives=2, per_disease=1)
    assert [t.positive for t in tasks] == ["DB00619", "DB00331", "DB00338"]


def test_curated_negatives_come_first(files: dict[str, Path], tiny_settings: Settings) -> None:
    tasks = {t.positive: t for t in _build(files, tiny_settings, negatives=2)}
    kinds = {c.id: c.negative for c in tasks["DB00619"].candidates}
    assert kinds["DB00682"] == "curated"  # warfarin: NOT for CML
    assert sorted(kinds.values()) == ["curated", "hard", "positive"]
    # Clarithromycin is NOT for T2D; metformin's contradicted NOT pair is no negative.
    assert {c.id: c.negative for c in tasks["DB00331"].candidates}["DB01211"] == "curated"


@pytest.mark.parametrize("negatives", [1, 2, 4, 6])
def test_negatives_are_never_indications(
    files: dict[str, Path], tiny_settings: Settings, tiny_kg: KnowledgeGraph, negatives: int
) -> None:
    tasks = _build(files, tiny_settings, negatives=negatives)
    assert tasks
    for task in tasks:
        known = _indications(tiny_kg, files, task.disease)
        assert task.positive in known
        negative = {c.id for c in task.candidates if c.negative != "positive"}
        assert negative and not negative & known, task.task_id
        assert len(negative) <= negatives


def test_hard_negatives_are_nearest_non_indications(
    files: dict[str, Path], tiny_settings: Settings, tiny_kg: KnowledgeGraph
) -> None:
    embedding = DrugEmbedding.build(tiny_settings)
    (task,) = [t for t in _build(files, tiny_settings, negatives=3) if t.positive == "DB00338"]
    known = _indications(tiny_kg, files, task.disease)
    hard = [c.id for c in task.candidates if c.negative == "hard"]
    expected = [d for d, _ in embedding.nearest("DB00338", 3, exclude=known)]
    assert sorted(hard) == sorted(expected)


def test_exclusions_cover_every_indication_and_equivalent_id(
    files: dict[str, Path], tiny_settings: Settings, tiny_kg: KnowledgeGraph
) -> None:
    tasks = _build(files, tiny_settings, negatives=2)
    cml = next(t for t in tasks if t.disease == "MESH:D015464")
    pairs = set(cml.exclusions)
    for drug in _indications(tiny_kg, files, "MESH:D015464"):
        assert {(drug, "MESH:D015464"), (drug, "DOID:8552")} <= pairs
    assert ("DB00945", "DOID:8552") in pairs  # known from PharmacotherapyDB only
    assert ("DB00682", "MESH:D015464") not in pairs  # a NOT pair is not masked
    t2d = next(t for t in tasks if t.disease == "MESH:D003924")
    assert {("DB00331", "DOID:9352"), ("DB00331", "MESH:D003924")} <= set(t2d.exclusions)


def test_masked_graph_shows_no_candidate_as_an_indication(
    files: dict[str, Path], tiny_settings: Settings, tiny_kg: KnowledgeGraph
) -> None:
    for task in _build(files, tiny_settings, negatives=6):
        before = {row.drug.local_id for row in tiny_kg.drugs_for_disease(task.disease)}
        masked = tiny_kg.with_exclusions(task.exclusions)
        after = {row.drug.local_id for row in masked.drugs_for_disease(task.disease)}
        assert not after & {c.id for c in task.candidates}
        assert not after  # every indication of the disease is masked
        assert task.positive in before or task.source.startswith(("drugmechdb", "pharmaco"))


def test_diseases_without_a_nameable_positive_are_skipped(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    listed = _write(tmp_path / "d.txt", ["MESH:D015464", "DOID:0000001"])
    tasks = _build(files, tiny_settings, listed, negatives=2)
    assert {t.disease for t in tasks} == {"MESH:D015464"}
    summary = summarize_tasks(tasks)
    assert summary.stats is not None
    assert summary.stats.diseases_listed == 2
    assert summary.stats.skipped_no_positive == 1
    assert summary.diseases_used == 1


def test_a_disease_no_source_names_is_skipped(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    # DRKG holds a truncated "MESH:C": a task shown as an id teaches nothing
    unnamed = "DOID:9999999\tDB00945\t\tAspirin\tDM\t1\t1\t"
    indications = _write(tmp_path / "i.tsv", [HEADER, *INDICATIONS, unnamed])
    listed = _write(tmp_path / "d.txt", ["MESH:D015464", "DOID:9999999"])
    tasks = _build({**files, "indications": indications}, tiny_settings, listed, negatives=2)
    assert {t.disease for t in tasks} == {"MESH:D015464"}
    summary = summarize_tasks(tasks)
    assert summary.stats is not None and summary.stats.skipped_unnamed == 1
    assert "1 unnamed" in str(summary)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Warfarin", "(R)-warfarin", True),
        ("Insulin", "Insulin lispro", True),
        ("Metformin", "metformin hydrochloride", True),
        ("Salicylic acid", "Acetylsalicylic acid", False),
        ("Insulin glargine", "Insulin lispro", False),
        ("", "Warfarin", False),
    ],
)
def test_name_equivalence(a: str, b: str, same: bool) -> None:
    assert _name_equivalent(_words(a), _words(b)) is same


# --- leakage --------------------------------------------------------------------------------


def test_a_forbidden_equivalent_id_is_refused(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    dev = _write(tmp_path / "dev.txt", ["MESH:D006973", "DOID:8552"])  # the DOID of CML
    with pytest.raises(InvalidInputError, match=r"MESH:D015464") as caught:
        _build(files, tiny_settings, forbidden=[files["dev"], dev])
    assert "1 disease(s)" in str(caught.value)
    assert "MESH:D003924" not in str(caught.value)


def test_refusal_names_at_most_five_diseases(tiny_settings: Settings, tmp_path: Path) -> None:
    ids = [f"DOID:{n}" for n in range(900001, 900008)]
    listed = _write(tmp_path / "list.txt", ids)
    with pytest.raises(InvalidInputError) as caught:
        build_tasks(listed, tmp_path / "none.tsv", tmp_path / "none.jsonl",
                    forbidden=[listed], settings=tiny_settings)  # fmt: skip
    message = str(caught.value)
    assert "7 disease(s)" in message
    assert sum(i in message for i in ids) == 5


def test_drop_forbidden_leaves_the_shared_disease_out(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    dev = _write(tmp_path / "dev.txt", ["DOID:8552"])
    tasks = _build(files, tiny_settings, negatives=2, forbidden=[dev], drop_forbidden=True)
    assert tasks and "MESH:D015464" not in {t.disease for t in tasks}
    assert isinstance(tasks, TaskList) and tasks.stats is not None
    assert tasks.stats.dropped_forbidden == 1
    assert "1 left out" in str(summarize_tasks(tasks))


def test_an_unrelated_forbidden_list_is_accepted(
    files: dict[str, Path], tiny_settings: Settings
) -> None:
    assert _build(files, tiny_settings, negatives=2, forbidden=[files["dev"]])


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_same_tasks_other_seed_other_order(
    files: dict[str, Path], tiny_settings: Settings
) -> None:
    first = _build(files, tiny_settings, negatives=4)
    again = _build(files, tiny_settings, negatives=4)
    assert [t.model_dump() for t in first] == [t.model_dump() for t in again]
    other = _build(files, tiny_settings, negatives=4, seed=1)
    assert [t.task_id.rsplit("|", 1)[0] for t in other] == [
        t.task_id.rsplit("|", 1)[0] for t in first
    ]
    assert all(t.task_id.endswith("|1") for t in other)
    orders = [[c.id for c in t.candidates] for t in first]
    assert orders != [[c.id for c in t.candidates] for t in other]


def test_adding_a_disease_keeps_the_other_tasks(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    small = _write(tmp_path / "small.txt", ["MESH:D001471"])
    alone = _build(files, tiny_settings, small, negatives=4, split="x")
    together = _build(files, tiny_settings, negatives=4, split="x")
    same = [t for t in together if t.disease == "MESH:D001471"]
    assert [t.model_dump() for t in alone] == [t.model_dump() for t in same]


# --- files ----------------------------------------------------------------------------------


def test_tasks_round_trip_through_jsonl(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    tasks = _build(files, tiny_settings, negatives=2)
    path = write_tasks(tasks, tmp_path / "out" / "tasks.jsonl")
    assert read_tasks(path) == list(tasks)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_summary_counts(files: dict[str, Path], tiny_settings: Settings) -> None:
    tasks = _build(files, tiny_settings, negatives=2)
    summary = summarize_tasks(tasks)
    assert summary.tasks == 4 and summary.diseases_used == 3 and summary.with_rationale == 1
    assert sum(summary.negatives.values()) == 8
    assert summary.negatives["curated"] == 3  # warfarin (x2 CML tasks), clarithromycin
    assert summary.sources == {"pharmacotherapydb:DM": 2, "drugmechdb": 1, "hetionet": 1}
    text = str(summary)
    assert "3 listed, 3 used, 0 skipped" in text and "tasks: 4" in text
    plain = summarize_tasks(list(tasks))
    assert plain.stats is None and "diseases used: 3" in str(plain)


@pytest.mark.parametrize(
    ("name", "lines", "where"),
    [
        ("diseases.txt", ["MESH:D015464", "type 2 diabetes"], "line 2"),
        ("ind.tsv", [HEADER, INDICATIONS[0], "DOID:8552\tDB00945\tCML"], "line 3"),
        ("ind.tsv", [HEADER, INDICATIONS[0].replace("\tDM\t", "\tMAYBE\t")], "line 2"),
        ("ind.tsv", [HEADER, INDICATIONS[0].replace("DOID:8552", "8552")], "line 2"),
        ("ind.tsv", ["doid_id\tdrug\tcategory", "DOID:8552\tDB00945\tDM"], "line 1"),
        ("paths.jsonl", [json.dumps(IMATINIB_PATH), "{not json"], "line 2"),
        ("paths.jsonl", ["", json.dumps({"drugbank_id": "DB00619"})], "line 2"),
        ("paths.jsonl", [json.dumps({**IMATINIB_PATH, "links": [{"key": "x"}]})], "line 1"),
        ("paths.jsonl", ["[1, 2]"], "line 1"),
    ],
)
def test_bad_lines_name_file_and_line(
    files: dict[str, Path],
    tiny_settings: Settings,
    tmp_path: Path,
    name: str,
    lines: list[str],
    where: str,
) -> None:
    bad = _write(tmp_path / name, lines)
    role = {"diseases.txt": "diseases", "ind.tsv": "indications", "paths.jsonl": "rationales"}
    chosen = {**files, role[name]: bad}
    with pytest.raises(InvalidInputError) as caught:
        build_tasks(chosen["diseases"], chosen["indications"], chosen["rationales"],
                    settings=tiny_settings)  # fmt: skip
    assert str(bad) in str(caught.value) and where in str(caught.value)


def test_salt_ids_are_skipped(files: dict[str, Path]) -> None:
    assert [p.drug for p in read_rationales(files["rationales"])] == ["DB00619"]
    salt = files["indications"].with_name("salt.tsv")
    _write(salt, [HEADER, INDICATIONS[0].replace("DB00945", "DBSALT000001")])
    assert read_indications(salt) == []


def test_missing_files_are_reported(files: dict[str, Path], tiny_settings: Settings) -> None:
    with pytest.raises(DataMissingError, match=r"nowhere\.tsv"):
        build_tasks(files["diseases"], Path("nowhere.tsv"), files["rationales"],
                    settings=tiny_settings)  # fmt: skip
    with pytest.raises(DataMissingError):
        read_tasks(Path("nowhere.jsonl"))


def test_read_diseases_deduplicates_by_concept(tiny_linker: Linker, tmp_path: Path) -> None:
    listed = _write(tmp_path / "d.txt", ["MESH:D015464", "DOID:8552", "MESH:C", " DOID:9352 "])
    assert [c.canonical for c in read_diseases(listed, tiny_linker)] == [
        "MESH:D015464",
        "MESH:C",  # DRKG's odd keys are kept as their own concept
        "MESH:D003924",
    ]


def test_bad_task_lines_name_the_line(
    files: dict[str, Path], tiny_settings: Settings, tmp_path: Path
) -> None:
    tasks = _build(files, tiny_settings, negatives=2)
    path = write_tasks(tasks, tmp_path / "tasks.jsonl")
    lines = path.read_text().splitlines()
    _write(path, [lines[0], '{"task_id": "x"}'])
    with pytest.raises(InvalidInputError, match=r"tasks.jsonl, line 2: not a task"):
        read_tasks(path)
    _write(path, [lines[0], "", lines[0]])
    with pytest.raises(InvalidInputError, match=r"line 3: task .* repeats line 1"):
        read_tasks(path)


def test_bad_arguments_are_refused(files: dict[str, Path], tiny_settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="negatives"):
        _build(files, tiny_settings, negatives=0)
    with pytest.raises(InvalidInputError, match="per_disease"):
        _build(files, tiny_settings, per_disease=0)


# --- the embedding --------------------------------------------------------------------------


def _graph(path: Path, triples: list[tuple[str, str, str]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines("\t".join(t) + "\n" for t in triples)
    return path


TARGET = "DRUGBANK::target::Compound:Gene"
TREATS = "DRUGBANK::treats::Compound:Disease"
DDI = "DRUGBANK::ddi-interactor-in::Compound:Compound"
TOY = [
    ("Compound::DB00001", TARGET, "Gene::1"),
    ("Compound::DB00001", TARGET, "Gene::2"),
    ("Compound::DB00002", TARGET, "Gene::1"),
    ("Compound::DB00002", TARGET, "Gene::2"),
    ("Compound::DB00003", TARGET, "Gene::3"),
    ("Compound::DB00003", TARGET, "Gene::4"),
    ("Gene::5", "DGIDB::INHIBITOR::Gene:Compound", "Compound::DB00004"),
    ("Compound::DB00004", TARGET, "Gene::4"),
    ("Compound::DB00001", DDI, "Compound::DB00003"),
    # Disease edges never count: DB00003 treats what DB00001 treats, DB00009 only diseases.
    ("Compound::DB00001", TREATS, "Disease::MESH:D000001"),
    ("Compound::DB00003", TREATS, "Disease::MESH:D000001"),
    ("Compound::DB00009", "Hetionet::CtD::Compound:Disease", "Disease::DOID:1"),
    ("Disease::DOID:1", "Hetionet::DaG::Disease:Gene", "Gene::1"),
]


def test_embedding_ignores_drug_disease_edges(tmp_path: Path) -> None:
    embedding = DrugEmbedding.compute([_graph(tmp_path / "g.tsv.gz", TOY)], dim=3, seed=0)
    assert embedding.ids == ("DB00001", "DB00002", "DB00003", "DB00004")
    assert "DB00009" not in embedding and "Gene::1" not in embedding
    assert embedding.meta["dropped_drug_disease"] == 3
    assert embedding.dim == 3
    np.testing.assert_allclose(np.linalg.norm(embedding.vectors, axis=1), 1.0, rtol=1e-5)
    ((drug, cosine),) = embedding.nearest("DB00001", 1)
    assert drug == "DB00002" and cosine == pytest.approx(1.0, abs=1e-4)
    assert embedding.nearest("DB00003", 1)[0][0] == "DB00004"
    assert "DB00002" not in dict(embedding.nearest("DB00001", 3, exclude={"DB00002"}))
    assert embedding.nearest("DB00009", 3) == []
    with_disease = DrugEmbedding.compute([_graph(tmp_path / "g2.tsv.gz", TOY[:9])], dim=3)
    np.testing.assert_allclose(with_disease.vectors, embedding.vectors, atol=1e-6)
    similarity = embedding.similarity("DB00001", "DB00002")
    assert similarity is not None and similarity > 0.99
    assert embedding.similarity("DB00001", "DB00009") is None


def test_embedding_is_cached_and_rebuilt_when_the_graph_changes(tmp_path: Path) -> None:
    graph = _graph(tmp_path / "drkg.tsv.gz", TOY)
    settings = Settings(data_dir=tmp_path / "no-bundle", home=tmp_path / "home", drkg_path=graph)
    built = DrugEmbedding.build(settings, dim=2, seed=3)
    assert cache_path(settings).is_file()
    cached = DrugEmbedding.build(settings, dim=2, seed=3)
    assert cached.meta == built.meta and np.array_equal(cached.vectors, built.vectors)
    assert DrugEmbedding.build(settings, dim=3, seed=3).dim == 3  # other dim: recomputed
    _graph(graph, TOY[:4])
    os.utime(graph, ns=(1, 1))
    assert DrugEmbedding.build(settings, dim=2, seed=3).ids == ("DB00001", "DB00002")


def test_embedding_rejects_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("Compound::DB00001\tDRUGBANK::target::Compound:Gene\n")
    with pytest.raises(InvalidInputError, match=r"bad\.tsv:1"):
        DrugEmbedding.compute([bad])
    only_diseases = _graph(tmp_path / "d.tsv.gz", TOY[-3:])
    with pytest.raises(InvalidInputError, match="No DrugBank drug"):
        DrugEmbedding.compute([only_diseases])
    with pytest.raises(InvalidInputError, match="dim"):
        DrugEmbedding.compute([only_diseases], dim=0)


def test_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    broken = tmp_path / "e.npz"
    broken.write_bytes(b"not a zip")
    assert DrugEmbedding.load(broken) is None
    assert DrugEmbedding.load(tmp_path / "missing.npz") is None


def test_tiny_bundle_embedding(tiny_settings: Settings) -> None:
    embedding = DrugEmbedding.build(tiny_settings)
    assert len(embedding) == 8 and embedding.dim == 8  # fewer drugs than 64 dimensions
    again = DrugEmbedding.build(tiny_settings)
    assert again.nearest("DB00619", 7) == embedding.nearest("DB00619", 7)
