"""The learned ranker: features of hand-built evidence, the artifact, parity, leakage refusal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kedrec_agent.ranking.features as features_module
import training.ranker as training_ranker
from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError, InvalidInputError, UnknownEntityError
from kedrec_agent.kg.evidence import CandidateDrug, evidence_for_candidates
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.models import Edge, Entity, MechanismPath, RelatedIndication
from kedrec_agent.linking import Linker
from kedrec_agent.literature.search import Hit
from kedrec_agent.ranking import FEATURE_NAMES, Ranker, candidate_features, feature_dict
from kedrec_agent.ranking.literature import ConditionLiterature, condition_literature
from kedrec_agent.ranking.model import ARTIFACT_SCHEMA, expand, expanded_names, softmax
from kedrec_agent.ranking.semantic import NameSimilarity
from kedrec_agent.ranking.tables import MAX_CLASS_SIZE, DrugTables
from training.ranker import (
    CONFIGS,
    Config,
    Rows,
    _fit,
    build_rows,
    export_model,
    refuse_leakage,
    train_ranker,
    write_artifact,
)
from training.ranker_data import TaskEvidence, known_view, masked_view, task_digest
from training.ranker_report import DEV_BEGIN, DEV_END, record_dev_figures, write_card
from training.tasks.schema import Task, TaskCandidate

CML = "MESH:D015464"
T2D = "MESH:D003924"


def _hit(drugs: list[str], diseases: list[str], *, source: str = "pubmed", score: float = 0.5,
         pmid: str = "1") -> Hit:  # fmt: skip
    return Hit(source=source, external_id=pmid, chunk=0, title="", snippet="s", score=score,
               why=[], drugs=drugs, diseases=diseases)  # fmt: skip


def _imatinib() -> CandidateDrug:
    drug = Entity(id="Compound::DB00619", label="Imatinib")
    disease = Entity(id=f"Disease::{CML}", label="CML")
    other = Entity(id="Disease::MESH:D015470", label="Acute myeloid leukemia")
    return CandidateDrug(
        drug=drug,
        condition=CML,
        via="indication",
        edges=[
            Edge(head=drug.id, relation="DRUGBANK::treats::Compound:Disease", tail=disease.id),
            Edge(head=drug.id, relation="Hetionet::CpD::Compound:Disease", tail=disease.id),
        ],
        paths=[
            MechanismPath(drug=drug, gene=Entity(id="Gene::25"), disease=disease, score=0.8),
            MechanismPath(drug=drug, gene=Entity(id="Gene::26"), disease=disease, score=0.4),
        ],
        related=[
            RelatedIndication(drug=drug, disease=other, relation="r", score=0.75),
            RelatedIndication(
                drug=drug, disease=Entity(id="Disease::MESH:D1"), relation="r", score=0.0
            ),
        ],
        other_indications=4,
        mentions=3,
    )


# --- features --------------------------------------------------------------------------------


def test_features_of_a_hand_built_candidate() -> None:
    hits = [
        _hit(["DB00619"], [CML], score=0.9),  # names both: a pair passage
        _hit(["DB00619"], ["DOID:8552"], source="ctgov", pmid="NCT1"),  # an equivalent id
        _hit(["DB00945"], [CML], pmid="2"),  # another drug
    ]
    values = feature_dict(candidate_features(_imatinib(), hits))
    assert list(values) == list(FEATURE_NAMES)
    assert values == pytest.approx(
        {
            "indication_edges": math.log1p(2),
            "indication_sources": 2.0,
            "indication_treats": 1.0,
            "mechanism_paths": 2.0,
            "mechanism_best": 0.8,
            "other_indications": math.log1p(4),
            "related_best": 0.75,
            "related_second": 0.0,
            "related_close": math.log1p(1),
            "related_any": math.log1p(1),
            "literature_mentions": math.log1p(3),
            # without a graph, DOID:8552 is not known to be CML: one pair passage
            "pair_passages": 1.0,
            "pair_trials": 0.0,
            "drug_passages": 2.0,
            "passage_related_best": 1.0,
            "pair_best_score": 0.9,
            "lineage_mentions": 0.0,  # no corpus-wide counts given
            "lineage_related_best": 0.0,
            # no graph, no tables: 0, never an error
            "drug_targets": 0.0,
            "interacting_drugs": 0.0,
            "has_class": 0.0,
            "classmates_related_best": 0.0,
            "classmates_related": 0.0,
            "classmates_mentions": 0.0,
            "related_text_best": 0.0,  # no name similarity given
            "related_text_second": 0.0,
            "class_text_best": 0.0,
        }
    )


def test_a_passage_naming_an_equivalent_id_is_about_the_pair(tiny_kg: KnowledgeGraph) -> None:
    trial = _hit(["DB00619"], ["DOID:8552"], source="ctgov", score=0.7, pmid="NCT1")
    values = feature_dict(candidate_features(_imatinib(), [trial], tiny_kg))
    assert values["pair_passages"] == 1.0 and values["pair_trials"] == 1.0
    assert values["pair_best_score"] == 0.7
    unrelated = _hit(["DB00619"], ["MESH:D003924"], pmid="3")
    values = feature_dict(candidate_features(_imatinib(), [unrelated], tiny_kg))
    assert values["pair_passages"] == 0.0 and values["drug_passages"] == 1.0


def test_corpus_wide_counts_of_the_drug_and_its_classmates() -> None:
    corpus = ConditionLiterature(
        mentions={"DB00619": 3, "DB00002": 4, "DB00003": 1},
        lineage={"DB00619": 6},
        lineage_best={"DB00619": 0.8},
    )
    tables = DrugTables.from_rows([("DB00619", "EPC:N1"), ("DB00002", "EPC:N1")])
    values = feature_dict(candidate_features(_imatinib(), [], tables=tables, literature=corpus))
    assert values["lineage_mentions"] == pytest.approx(math.log1p(6))
    assert values["lineage_related_best"] == 0.8
    assert values["classmates_mentions"] == pytest.approx(math.log1p(4))  # not its own 3


class _CoMentions:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def co_mentions(self, disease: str) -> dict[str, int]:
        self.asked.append(disease)
        if disease == "MESH:D003920":  # diabetes mellitus, the parent of type 2 diabetes
            return {"DB00178": 2, "DB00001": 1}
        if disease == T2D:
            return {"DB00001": 5}
        raise UnknownEntityError(disease, "disease")


def test_condition_literature_counts_the_lineage(tiny_kg: KnowledgeGraph) -> None:
    search = _CoMentions()
    found = condition_literature(search, tiny_kg, T2D)
    assert found.mentions == {"DB00001": 5}
    assert found.lineage == {"DB00178": 2, "DB00001": 1}
    assert 0.5 <= found.lineage_best["DB00178"] < 1.0
    assert search.asked[0] == "MESH:D003920" and search.asked[-1] == T2D


def test_a_candidate_without_evidence_is_all_zeros() -> None:
    bare = CandidateDrug(drug=Entity(id="Compound::DB00001"), condition=CML, via="mechanism")
    assert not candidate_features(bare).any()


def test_a_bundle_without_safety_tables_gives_empty_tables(tiny_settings: Settings) -> None:
    tables = DrugTables.from_settings(tiny_settings)  # the tiny bundle has no safety/
    assert not tables.classes and not tables.classes_of("DB00619")
    values = feature_dict(candidate_features(_imatinib(), [], tables=tables))
    assert values["has_class"] == 0.0 and values["classmates_related"] == 0.0


def test_tables_read_the_bundle_files(tmp_path: Path) -> None:
    safety = tmp_path / "safety"
    safety.mkdir()
    (safety / "drugcentral2016_pharmacologic_classes.tsv").write_text(
        "drugbank_id\tdrug_name\tclass_source\tclass_type\tclass_id\tclass_name\n"
        "DB00001\tA\tFDA\tEPC\tN1\tThrombin inhibitor\n"
        "DB00002\tB\tFDA\tEPC\tN1\tThrombin inhibitor\n"
        "DB00002\tB\tMeSH\tPA\tD1\tAnticoagulants\n"
    )
    (safety / "atc_drugbank42.tsv").write_text(
        "drugbank_id\tdrug_name\tatc_code\nDB00001\tA\tB01AE02\nDB00003\tC\tB01AE07\n"
    )
    tables = DrugTables.from_settings(Settings(data_dir=tmp_path, home=tmp_path / "home"))
    assert tables.classes_of("DB00001") == {"EPC:N1", "ATC:B01AE"}
    assert tables.classes_of("DB00002") == {"EPC:N1"}  # MeSH PA is not used
    assert tables.classmates("DB00001") == {"DB00002", "DB00003"}
    # ...but its name is, beside the FDA class's (what the drug is for, in words)
    assert tables.class_names["DB00002"] == ("Anticoagulants", "Thrombin inhibitor")


def test_broad_classes_are_dropped() -> None:
    rows = [(f"DB{n:05d}", "ATC:N02BA") for n in range(MAX_CLASS_SIZE + 1)]
    rows += [("DB00001", "EPC:N1"), ("DB00002", "EPC:N1")]
    tables = DrugTables.from_rows(rows)
    assert tables.classes_of("DB00001") == {"EPC:N1"}
    assert tables.classmates("DB00001") == {"DB00002"}


def test_classmates_count_their_related_indications(tiny_kg: KnowledgeGraph) -> None:
    # DB00178 treats diabetes mellitus (the parent of type 2 diabetes) in the tiny graph.
    tables = DrugTables.from_rows([("DB00001", "EPC:N1"), ("DB00178", "EPC:N1")])
    bare = CandidateDrug(drug=Entity(id="Compound::DB00001"), condition=T2D, via="mechanism")
    values = feature_dict(candidate_features(bare, [], tiny_kg, tables=tables))
    assert values["has_class"] == 1.0
    assert values["classmates_related_best"] >= 0.5
    assert values["classmates_related"] == math.log1p(1)


# --- name similarity -------------------------------------------------------------------------


class _Words:
    """A stand-in sentence encoder: unit bag-of-words vectors; counts the names it embeds."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: Any) -> np.ndarray:
        self.seen.extend(texts)
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(",", " ").split():
                out[row, sum(map(ord, word)) % 64] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


def test_name_similarity_ranks_names_and_embeds_each_once() -> None:
    encoder = _Words()
    names = NameSimilarity(encoder)
    best = names.best("Diabetes Mellitus, Type 2", ["Hypertension", "Diabetes Mellitus"], k=2)
    assert best[0] > 0.5 and best[1] == 0.0
    names.best("Diabetes Mellitus, Type 2", ["Diabetes Mellitus", "Gout"])
    assert sorted(encoder.seen) == sorted(
        ["Diabetes Mellitus, Type 2", "Hypertension", "Diabetes Mellitus", "Gout"]
    )
    assert names.best("", ["Gout"]) == [] and names.best("Gout", []) == []


def test_text_features_read_visible_other_indications_and_class_names(
    tiny_kg: KnowledgeGraph,
) -> None:
    # DB00178 treats diabetes mellitus (named like type 2 diabetes) and hypertension.
    names = NameSimilarity(_Words())
    tables = DrugTables.from_rows([], class_names={"DB00178": ["Biguanide", "Diabetes Agents"]})
    drug = CandidateDrug(drug=Entity(id="Compound::DB00178"), condition=T2D, via="mechanism")
    values = feature_dict(candidate_features(drug, [], tiny_kg, tables=tables, names=names))
    assert values["related_text_best"] > 0.5  # "Diabetes Mellitus" vs "...Type 2"
    assert values["related_text_second"] == 0.0  # hypertension shares no word
    assert values["class_text_best"] > 0.3
    # masked, the diabetes mellitus edge says nothing; without the similarity, all 0
    masked = tiny_kg.with_exclusions([("DB00178", "MESH:D003920")])
    hidden = feature_dict(candidate_features(drug, [], masked, tables=tables, names=names))
    assert hidden["related_text_best"] == 0.0 and hidden["class_text_best"] > 0.3
    bare = feature_dict(candidate_features(drug, [], tiny_kg, tables=tables))
    assert bare["related_text_best"] == bare["class_text_best"] == 0.0


def test_disease_labels_fall_back_to_an_equivalent(tiny_kg: KnowledgeGraph) -> None:
    assert tiny_kg.disease_label(T2D) == "Diabetes Mellitus, Type 2"
    assert tiny_kg.disease_label("DOID:9352") == "type 2 diabetes mellitus"
    assert tiny_kg.disease_label("MESH:D000001") is None


# --- the model -------------------------------------------------------------------------------


def _artifact(**changes: Any) -> dict[str, Any]:
    inputs = expanded_names()
    coef = [0.0] * len(inputs)
    coef[inputs.index("related_best")] = 2.0
    artifact: dict[str, Any] = {
        "schema": ARTIFACT_SCHEMA,
        "features": list(FEATURE_NAMES),
        "model": {
            "mean": [0.0] * len(inputs),
            "scale": [1.0] * len(inputs),
            "coef": coef,
            "intercept": -1.0,
        },
        "calibration": {"temperature": 1.0},
    }
    artifact.update(changes)
    return artifact


def _rows(*related: float) -> np.ndarray:
    matrix = np.zeros((len(related), len(FEATURE_NAMES)))
    matrix[:, FEATURE_NAMES.index("related_best")] = related
    return matrix


def test_a_tiny_artifact_scores_and_calibrates(tmp_path: Path) -> None:
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(_artifact()))
    ranker = Ranker.load(path)
    prob = ranker.probabilities(_rows(0.9, 0.1, 0.0))
    assert prob.sum() == pytest.approx(1.0)
    assert list(np.argsort(-prob)) == [0, 1, 2]
    assert prob == pytest.approx(softmax(np.array([1.8, 0.2, 0.0])))
    colder = Ranker.from_dict(_artifact(calibration={"temperature": 4.0}))
    assert colder.probabilities(_rows(0.9, 0.1, 0.0)).max() < prob.max()
    assert ranker.probabilities(np.zeros((0, len(FEATURE_NAMES)))).size == 0
    with pytest.raises(ValueError, match="feature matrix"):
        ranker.scores(np.zeros((2, 3)))


def test_expand_appends_the_gap_to_the_best() -> None:
    matrix = np.array([[1.0, 5.0], [3.0, 2.0]])
    assert expand(matrix).tolist() == [[1.0, 5.0, -2.0, 0.0], [3.0, 2.0, 0.0, -3.0]]
    assert expanded_names(["a"]) == ["a", "a_vs_best"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"features": [*FEATURE_NAMES[:-1], "renamed"]},
            r"missing \['class_text_best'\], unknown \['renamed'\]",
        ),
        ({"features": list(reversed(FEATURE_NAMES))}, "order differs"),
        ({"features": list(FEATURE_NAMES[:-1])}, "retrain it with `kedrec train ranker`"),
        ({"schema": "kedrec.other/1"}, "Not a ranker artifact"),
        (
            {"model": {"mean": [0.0], "scale": [1.0], "coef": [1.0]}},
            f"scale has 1 values; {2 * len(FEATURE_NAMES)} expected",
        ),
        ({"calibration": {"temperature": 0}}, "temperature must be positive"),
    ],
)
def test_an_artifact_that_does_not_match_the_code_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Ranker.from_dict(_artifact(**changes))


def test_a_missing_or_broken_artifact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kedrec train ranker"):
        Ranker.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="unreadable"):
        Ranker.load(tmp_path / "bad.json")


# --- training / serving parity ---------------------------------------------------------------


def test_training_uses_the_serving_feature_function() -> None:
    assert vars(training_ranker)["candidate_features"] is features_module.candidate_features


def _task() -> Task:
    return Task(
        task_id=f"{T2D}|DB00178|0",
        split="train",
        disease=T2D,
        disease_name="type 2 diabetes",
        positive="DB00178",
        source="drugbank",
        candidates=[TaskCandidate(id="DB00177", name="Valsartan", negative="hard"),
                    TaskCandidate(id="DB00178", name="Ramipril", negative="positive")],
        exclusions=[("DB00178", T2D), ("DB00178", "DOID:9352")],
    )  # fmt: skip


def test_training_rows_are_the_serving_features(tiny_kg: KnowledgeGraph) -> None:
    task = _task()
    masked = masked_view(tiny_kg, task)
    ids = [c.id for c in task.candidates]
    shown = evidence_for_candidates(masked, task.disease, ids).candidates
    known = evidence_for_candidates(known_view(tiny_kg, task), task.disease, ["DB00178"])
    hits = {"DB00178": [_hit(["DB00178"], ["DOID:9352"], source="ctgov")]}
    evidence = TaskEvidence(task_id=task.task_id, task_digest=task_digest(task),
                            candidates=shown, hits=hits, known=known.candidates[0])  # fmt: skip
    assert not shown[1].edges and known.candidates[0].edges  # masked, then visible
    tables = DrugTables.from_rows([("DB00177", "EPC:N1"), ("DB00178", "EPC:N1")])

    rows = build_rows([task], {task.task_id: evidence}, tiny_kg, tables)

    served = np.vstack(
        [candidate_features(c, hits.get(c.drug.local_id, ()), masked, tables=tables)
         for c in shown]
    )  # fmt: skip
    assert rows.kinds == ["repurposing", "known"]
    assert rows.label.tolist() == [0, 1, 0, 1]
    assert np.array_equal(rows.features[:2], served)
    gold = candidate_features(known.candidates[0], hits["DB00178"], known_view(tiny_kg, task),
                              tables=tables)  # fmt: skip
    assert np.array_equal(rows.features[2:], np.vstack([served[0], gold]))
    assert feature_dict(gold)["indication_edges"] > 0

    ranker = Ranker.from_dict(_artifact())
    ranked = ranker.rank(shown, hits, masked, tables=tables)
    assert list(ranked.values()) == pytest.approx(list(ranker.probabilities(served)))


# --- leakage ---------------------------------------------------------------------------------


def test_tasks_of_a_dev_disease_are_refused(tiny_linker: Linker, tmp_path: Path) -> None:
    dev = tmp_path / "diseases_dev.txt"
    dev.write_text("DOID:8552\n")  # the DOID of CML
    cml = _task().model_copy(update={"disease": CML, "task_id": f"{CML}|DB00619|0"})
    with pytest.raises(InvalidInputError, match=r"1 task disease\(s\).*MESH:D015464"):
        refuse_leakage([_task(), cml], [dev], tiny_linker)
    refuse_leakage([_task()], [dev], tiny_linker)  # an unrelated disease is accepted


# --- training --------------------------------------------------------------------------------


def _synthetic_rows(tasks: int = 120, seed: int = 0) -> Rows:
    rng = np.random.default_rng(seed)
    features, labels, groups = [], [], []
    related = FEATURE_NAMES.index("related_best")
    for g in range(tasks):
        gold = int(rng.integers(5))
        for i in range(5):
            row = rng.normal(0, 0.3, len(FEATURE_NAMES))
            row[related] += 1.0 if i == gold else 0.0
            features.append(row)
            labels.append(int(i == gold))
            groups.append(g)
    return Rows(
        np.array(features), np.array(labels), np.array(groups),
        [f"MESH:D{g % 40:06d}" for g in range(tasks)], ["repurposing"] * tasks,
        [str(g) for g in range(tasks)],
    )  # fmt: skip


def test_training_chooses_by_cross_validation_and_exports_a_loadable_artifact(
    tmp_path: Path,
) -> None:
    configs = [Config("logistic", c=0.1), Config("logistic", c=1.0), Config("boosting", trees=30)]
    result = train_ranker(_synthetic_rows(), seed=0, folds=3, configs=configs)
    assert set(result.cv) == {c.name for c in configs}
    best = max(f["repurposing"]["accuracy"] for f in result.cv.values())
    assert result.cv[result.chosen]["repurposing"]["accuracy"] == best > 0.8
    assert result.best_linear.startswith("logistic")
    ranker = Ranker.load(write_artifact(result, tmp_path / "ranker.json"))
    assert ranker.temperature > 0 and ranker.metadata["seed"] == 0
    assert ranker.metadata["train_tasks"] == 120
    again = train_ranker(_synthetic_rows(), seed=0, folds=3, configs=configs)
    assert again.artifact["model"] == result.artifact["model"]  # seeded: reproducible


@pytest.mark.parametrize("config", [Config("logistic", c=0.1), Config("boosting", trees=20)])
def test_an_exported_model_scores_as_scikit_learn(config: Config) -> None:
    rows = _synthetic_rows(40)
    inputs = rows.inputs
    model = _fit(config, inputs, rows.label, seed=0)
    artifact = _artifact(model=export_model(config, model, inputs))
    ranker = Ranker.from_dict(json.loads(json.dumps(artifact)))  # through JSON
    first = rows.features[rows.group == 0]
    assert ranker.scores(first) == pytest.approx(model.decision_function(expand(first)))


def test_a_malformed_tree_is_refused() -> None:
    tree = {"feature": [0, -2, -2], "threshold": [0.5, 0, 0], "left": [1, -1, -1],
            "right": [2, -1, -1], "value": [0.0, -1.0, 1.0]}  # fmt: skip
    model = {"family": "gradient-boosting", "init": 0.0, "learning_rate": 0.1, "trees": [tree]}
    ranker = Ranker.from_dict(_artifact(model=model))
    assert ranker.scores(_rows(0.0, 0.0)).tolist() == pytest.approx([-0.1, -0.1])
    with pytest.raises(ConfigError, match="malformed tree"):
        Ranker.from_dict(_artifact(model={**model, "trees": [{**tree, "left": [7, -1, -1]}]}))
    with pytest.raises(ConfigError, match="Unknown ranker model family"):
        Ranker.from_dict(_artifact(model={"family": "forest"}))


def test_the_card_keeps_its_dev_figures_for_the_same_artifact(tmp_path: Path) -> None:
    artifact = train_ranker(_synthetic_rows(60), seed=0, folds=3, configs=CONFIGS[:1]).artifact
    card = write_card(artifact, tmp_path / "RANKER_CARD.md", command="kedrec train ranker")
    assert "Not measured yet" in card.read_text()
    assert all(f"`{name}`" in card.read_text() for name in FEATURE_NAMES)
    record_dev_figures(card, "| ranker | 70.0 |")
    write_card(artifact, card, command="kedrec train ranker")
    text = card.read_text()
    assert f"{DEV_BEGIN}\n| ranker | 70.0 |\n{DEV_END}" in text
    other = {**artifact, "calibration": {"temperature": 9.0}}
    assert "Not measured yet" in write_card(other, card, command="x").read_text()


def test_training_refuses_rows_without_a_true_drug() -> None:
    rows = _synthetic_rows(10)
    rows.label[:] = 0
    with pytest.raises(InvalidInputError, match="nothing to learn"):
        train_ranker(rows)
