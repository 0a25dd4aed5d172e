"""The evaluation harness on the tiny bundle: masking, caching, methods, files, report.

A tiny random LLaMA (tests/tiny_llama.py) stands in for the reasoning model, so the
model path runs for real in seconds; stand-ins answer for the agent where a whole run
is not the point (MIMIC-III, free-text patients).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kedrec_agent.agent.result import AgentResult, DrugRecommendation, Versions
from kedrec_agent.config import Settings
from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import Linker
from kedrec_agent.patients import PatientInput
from kedrec_agent.ranking import load_ranker
from kedrec_agent.reasoning.runtime import ReasoningModel, load_model
from kedrec_agent.reasoning.schema import Choice, EntityRef, PatientView, Recommendation
from kedrec_agent.safety.checks import SafetyWarning
from tests.tiny_llama import write_tiny_llama
from tests.unit_tests.test_tasks import HEADER, IMATINIB_PATH, INDICATIONS
from training.evaluation import methods as methods_module
from training.evaluation.adapter import SelectionReport, evaluate_selection, ranker_choice
from training.evaluation.exprxrec import cached_visible_tasks, run_selection, subset
from training.evaluation.indications import indication_tasks, run_indications
from training.evaluation.methods import (
    KGPathMethod,
    Method,
    ModelMethod,
    PopularityMethod,
    Prediction,
    RandomMethod,
    popularity_counts,
    without,
)
from training.evaluation.mimic import DDIIndex, clean_name, run_mimic
from training.evaluation.patients import read_patients, run_patients
from training.evaluation.report import write_report
from training.tasks.build import build_tasks
from training.tasks.schema import Task
from training.tasks.visible import Sources

CML = "MESH:D015464"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "diseases": _write(tmp_path / "diseases_x.txt", ["MESH:D015464", "DOID:9352"]),
        "indications": _write(tmp_path / "indications.tsv", [HEADER, *INDICATIONS]),
        "rationales": _write(tmp_path / "paths.jsonl", [json.dumps(IMATINIB_PATH)]),
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> ReasoningModel:
    folder = tmp_path_factory.mktemp("tiny-llama-eval")
    write_tiny_llama(folder, ['{"choices": [{"drug": "DB00619", "evidence": ["E1"]}]}'])
    return load_model(
        Settings(data_dir=Path("."), home=folder.parent, model=folder, model_dtype="float32")
    )


@pytest.fixture
def tasks(files: dict[str, Path], tiny_settings: Settings) -> list[Task]:
    built = build_tasks(
        files["diseases"], files["indications"], files["rationales"], negatives=2,
        settings=tiny_settings,
    )  # fmt: skip
    assert built, "the tiny bundle gives tasks"
    return built


@pytest.fixture
def sources(tiny_kg: KnowledgeGraph, tiny_model: ReasoningModel) -> Sources:
    return Sources(kg=tiny_kg, literature=None, model=tiny_model)


# --- masking and the evidence cache -------------------------------------------------------


def test_gold_edges_are_invisible_in_the_evidence_every_method_sees(
    tasks: list[Task], sources: Sources, tiny_kg: KnowledgeGraph, tmp_path: Path
) -> None:
    visible = cached_visible_tasks(tasks, sources, tmp_path, progress=False)
    assert set(visible) == {t.task_id for t in tasks}
    shown_before = 0
    for task in tasks:
        candidates = {c.id for c in task.candidates}
        before = {r.drug.local_id for r in tiny_kg.drugs_for_disease(task.disease)}
        shown_before += task.positive in before
        masked = tiny_kg.with_exclusions(task.exclusions)
        assert not candidates & {r.drug.local_id for r in masked.drugs_for_disease(task.disease)}
        for item in visible[task.task_id].evidence:
            # An indication edge would read "<drug> treats <disease>" (or palliates).
            assert not (
                task.positive in item.drugs
                and (" treats " in item.text or "palliates" in item.text)
            ), item.text
    assert shown_before > 0, "the unmasked graph shows some gold edge: the test is not vacuous"


def test_evidence_is_cached_and_reused(tasks: list[Task], sources: Sources, tmp_path: Path) -> None:
    first = cached_visible_tasks(tasks, sources, tmp_path, data="v1", progress=False)
    broken = dataclasses.replace(sources, kg=None)  # type: ignore[arg-type]  # any recomputation would fail
    assert cached_visible_tasks(tasks, broken, tmp_path, data="v1", progress=False) == first
    with pytest.raises(AttributeError):  # another data version: recomputed
        cached_visible_tasks(tasks, broken, tmp_path, data="v2", progress=False)


# --- methods and the selection run --------------------------------------------------------


def test_selection_run_baselines_all_tasks_model_on_the_subset(
    tasks: list[Task], sources: Sources, tiny_model: ReasoningModel, files: dict[str, Path]
) -> None:
    visible = cached_visible_tasks(tasks, sources, None, progress=False)
    counts = popularity_counts([files["indications"]], [files["rationales"]])
    assert counts["DB00619"] == 1 and "DB00682" not in counts  # NOT pairs do not count
    methods: list[Method] = [
        RandomMethod(seed=3),
        PopularityMethod(counts),
        KGPathMethod(),
        ModelMethod("tiny", tiny_model),
    ]
    subset = {tasks[0].task_id}
    runs = [
        run_selection(tasks, visible, methods, model_tasks=subset, progress=False) for _ in range(2)
    ]
    result = runs[0]
    assert len(result["random"]["records"]) == len(tasks)
    assert [r["task_id"] for r in result["tiny"]["records"]] == [tasks[0].task_id]
    assert result["random"]["subset_metrics"]["tasks"] == 1
    for name in result:  # reruns give the same answers
        strip = [{**r, "seconds": 0} for r in result[name]["records"]]
        assert strip == [{**r, "seconds": 0} for r in runs[1][name]["records"]]
    tiny = result["tiny"]["metrics"]
    assert {"citation_precision", "hallucinated_id_rate", "fallback"} <= set(tiny)


def test_adapter_check_answers_the_harness_subset_and_shares_its_cache(
    tasks: list[Task], sources: Sources, tiny_model: ReasoningModel, tmp_path: Path
) -> None:
    assert len(tasks) > 2, "the subset must be a proper one for the test to mean anything"
    report = evaluate_selection(
        tasks, sources, tiny_model, limit=2, seed=5, cache_dir=tmp_path, data="v1",
        progress=False,
    )  # fmt: skip
    picked = [t.task_id for t in subset(tasks, 2, 5)]
    assert list(report.chosen) == picked and report.tasks == 2 and report.unavailable == 0
    every, method = (
        cached_visible_tasks(tasks, sources, None, progress=False),
        ModelMethod("m", tiny_model),
    )
    answers = {t.task_id: method.predict(t, every[t.task_id]).chosen for t in tasks}
    assert report.chosen == {task_id: answers[task_id] for task_id in picked}
    expected = sum(answers[t.task_id] == t.positive for t in tasks if t.task_id in picked)
    assert report.correct == expected
    broken = dataclasses.replace(sources, kg=None)  # type: ignore[arg-type]  # must hit the cache
    again = evaluate_selection(
        tasks, broken, tiny_model, limit=2, seed=5, cache_dir=tmp_path, data="v1",
        progress=False,
    )  # fmt: skip
    assert again.chosen == report.chosen


def test_adapter_check_scores_rationales_against_drugmechdb_and_counts_gate_failures(
    tasks: list[Task],
) -> None:
    task = tasks[0].model_copy(update={"rationale": "imatinib decreases activity of BCR-ABL."})
    report = SelectionReport()
    report.add_rationale(task, Prediction(chosen="x", rationale=task.rationale))
    report.add_rationale(task, Prediction(chosen="x", rationale="Aspirin.", templated=True))
    report.add_rationale(task.model_copy(update={"rationale": None}), Prediction(chosen="x"))
    assert (report.rouge_scored, report.gate_failed) == (2, 1)
    assert report.rouge_means()["rougeL"] == pytest.approx(0.5)
    figures = report.figures()
    assert figures["gate_failed"] == 1 and figures["rouge_scored"] == 2
    assert "ROUGE-1/L 50.0 / 50.0 over 2" in report.summary("adapter")


def test_with_the_ranker_the_prompt_shows_its_probabilities_and_departures_are_counted(
    tasks: list[Task], sources: Sources, tiny_model: ReasoningModel, tmp_path: Path
) -> None:
    ranked = dataclasses.replace(sources, ranker=load_ranker())
    plain = cached_visible_tasks(tasks, sources, tmp_path, progress=False)
    shown = cached_visible_tasks(tasks, ranked, tmp_path, progress=False)
    assert len(list(tmp_path.glob("evidence-*.jsonl"))) == 2  # its own cache key
    for task in tasks:
        probabilities = [c.probability for c in shown[task.task_id].candidates]
        assert all(p is not None for p in probabilities)
        assert all(c.probability is None for c in plain[task.task_id].candidates)
        assert sum(p or 0.0 for p in probabilities) == pytest.approx(1.0, abs=0.02)
    report = evaluate_selection(tasks, ranked, tiny_model, cache_dir=tmp_path, progress=False)
    tops = {t.task_id: ranker_choice(shown[t.task_id]) for t in tasks}
    assert report.ranked == len(tasks)
    assert report.ranker_correct == sum(tops[t.task_id] == t.positive for t in tasks)
    departed = [t for t in tasks if report.chosen[t.task_id] not in (None, tops[t.task_id])]
    assert report.departed == len(departed)
    assert report.departed_right == sum(report.chosen[t.task_id] == t.positive for t in departed)
    assert report.departed_ranker_right == sum(tops[t.task_id] == t.positive for t in departed)
    assert "departed from it on" in report.summary("adapter")
    assert evaluate_selection(tasks, sources, tiny_model, progress=False).ranked == 0


def test_kg_path_abstains_without_evidence_and_ablation_drops_a_kind(
    tasks: list[Task], sources: Sources
) -> None:
    every = cached_visible_tasks(tasks, sources, None, progress=False)
    task = next(t for t in tasks if any(e.kind == "kg" for e in every[t.task_id].evidence))
    visible = every[task.task_id]
    assert KGPathMethod().predict(task, visible).chosen is not None
    bare = without(visible, "kg")
    assert all(e.kind != "kg" for e in bare.evidence) and without(visible, None) is visible
    assert KGPathMethod().predict(task, bare).chosen is None


def test_model_prediction_counts_citations_only_when_grounded(
    tasks: list[Task], sources: Sources, tiny_model: ReasoningModel, monkeypatch: Any
) -> None:
    visible = cached_visible_tasks(tasks, sources, None, progress=False)[tasks[0].task_id]
    answers = iter(
        [
            Recommendation(
                choices=[Choice(drug_id="DB1", drug_name="x", rationale="r",
                                evidence_ids=["E1", "E2"], grounded=True)],
                confidence=0.7, fallback=False, removed_ids=1, prompt_version="p",
            ),
            Recommendation(
                choices=[Choice(drug_id="DB1", drug_name="x", rationale="r",
                                evidence_ids=["E1"], grounded=False)],
                confidence=0.3, fallback=False, removed_ids=2, prompt_version="p",
            ),
        ]
    )  # fmt: skip

    class FakeReasoner:
        def __init__(self, model: object, **options: object) -> None:
            pass

        def recommend(self, task: object) -> Recommendation:
            return next(answers)

    monkeypatch.setattr(methods_module, "Reasoner", FakeReasoner)
    method = ModelMethod("m", tiny_model)
    grounded, ungrounded = (method.predict(tasks[0], visible) for _ in range(2))
    assert (grounded.cited, grounded.hallucinated, grounded.grounded) == (2, 1, True)
    assert (ungrounded.cited, ungrounded.hallucinated, ungrounded.grounded) == (0, 2, False)


def test_indications_scores_every_labelled_pair(
    files: dict[str, Path], tiny_settings: Settings, sources: Sources
) -> None:
    tasks, labels = indication_tasks(files["indications"], tiny_settings)
    by_disease = {t.disease: labels[t.task_id] for t in tasks}
    assert by_disease[CML] == {"DB00945": 1, "DB00682": 0}
    # Metformin is DM and NOT for T2D: an indication.
    assert by_disease["MESH:D003924"] == {"DB00331": 1, "DB01211": 0}
    visible = cached_visible_tasks(tasks, sources, None, progress=False)
    result = run_indications(tasks, labels, visible, [RandomMethod(), KGPathMethod()],
                             progress=False)  # fmt: skip
    assert result["random"]["pairs"] == 4 and result["random"]["positives"] == 2
    assert 0.0 <= result["kg-path"]["auroc"] <= 1.0


# --- input files: bad lines are named -----------------------------------------------------


@pytest.mark.parametrize(
    ("which", "line", "number"),
    [
        ("diseases", "not-a-disease", 2),
        ("indications", "DOID:8552\tDB00619\tCML\tImatinib\tMAYBE\t1\t1\tMESH:D015464", 2),
        ("rationales", "{not json", 1),
    ],
)
def test_bad_input_lines_are_named(
    files: dict[str, Path], tiny_settings: Settings, which: str, line: str, number: int
) -> None:
    path = files[which]
    lines = path.read_text().splitlines()
    at = 0 if which == "rationales" else 1  # after the header / first disease
    lines = [*lines[:at], line, *lines[at:]]
    _write(path, lines)
    with pytest.raises(InvalidInputError, match=rf"{path.name}, line {number}\b"):
        build_tasks(files["diseases"], files["indications"], files["rationales"],
                         settings=tiny_settings)  # fmt: skip


def test_missing_input_file_is_named(files: dict[str, Path], tiny_settings: Settings) -> None:
    with pytest.raises(DataMissingError, match=r"nowhere\.tsv"):
        build_tasks(files["diseases"], files["diseases"].parent / "nowhere.tsv",
                         files["rationales"], settings=tiny_settings)  # fmt: skip


SECRET = "Mrs Secret-Name, 71, with chronic myeloid leukemia"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "not a JSON object"),
        ('{"id": 1}', "'text' must be a non-empty string"),
        (json.dumps({"text": SECRET, "drugs": "DB00619"}), "'drugs' must be a list"),
    ],
)
def test_bad_patient_lines_are_named_without_their_text(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = _write(tmp_path / "p.jsonl", [json.dumps({"text": "gout"}), "", line])
    with pytest.raises(InvalidInputError, match=rf"line 3: {problem}") as info:
        read_patients(path)
    assert "Secret" not in str(info.value)


def _result(drugs: list[str], conditions: list[str], vetoed: list[str] = ()) -> AgentResult:  # type: ignore[assignment]
    return AgentResult(
        abstained=not drugs,
        recommendations=[
            DrugRecommendation(rank=i + 1, drug_id=d, name=d, score=1.0 - i / 10,
                               rationale="", grounded=True, evidence=[])
            for i, d in enumerate(drugs)
        ],
        warnings=[SafetyWarning(kind="allergy", severity="veto", drug_id=d, message="m")
                  for d in vetoed],
        patient=PatientView(conditions=[EntityRef(id=c, name=c) for c in conditions]),
        versions=Versions(package="t", prompt="p", model=None, data="d"),
    )  # fmt: skip


def test_patients_metrics_by_hand(tmp_path: Path, tiny_linker: Linker) -> None:
    path = _write(
        tmp_path / "p.jsonl",
        [
            json.dumps({"id": "a", "text": SECRET, "conditions": ["DOID:8552"],
                        "drugs": ["imatinib", "DB01254"]}),
            json.dumps({"text": "nothing to see"}),
        ],
    )  # fmt: skip
    answers = {SECRET: _result(["DB00619", "DB00945"], [CML]), "nothing to see": _result([], [])}
    result = run_patients(read_patients(path), answers.__getitem__, tiny_linker, progress=False)
    assert result["abstention"] == 0.5 and result["linked"] == 0.5
    assert result["condition_recall"] == 1.0  # DOID:8552 is CML's equivalent
    gold = result["gold_drugs"]
    assert (gold["precision"], gold["recall"], gold["hit_rate"]) == (0.5, 0.5, 1.0)
    assert "Secret" not in json.dumps(result)


# --- MIMIC-III ----------------------------------------------------------------------------


@pytest.fixture
def mimic_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mimic"
    folder.mkdir()
    _write(
        folder / "ADMISSIONS.csv",
        [
            "SUBJECT_ID,HADM_ID,ADMITTIME",
            "1,10,2150-01-02 00:00:00",
            "2,20,2150-01-02 00:00:00",
            "3,30,2150-01-02 00:00:00",
        ],
    )
    _write(
        folder / "PATIENTS.csv",
        [
            "SUBJECT_ID,GENDER,DOB",
            "1,F,2100-01-01 00:00:00",
            "2,M,2100-01-01 00:00:00",
            "3,M,2100-01-01 00:00:00",
        ],
    )
    _write(
        folder / "DIAGNOSES_ICD.csv",
        ["HADM_ID,SEQ_NUM,ICD9_CODE", "10,1,20510", "20,1,25000", "30,1,25000"],
    )
    _write(
        folder / "PRESCRIPTIONS.csv",
        ["HADM_ID,DRUG,DRUG_NAME_GENERIC", "10,Imatinib,", "10,Warfarin,Warfarin",
         "10,Zebra Juice,", "20,Metformin,", "30,,"],
    )  # fmt: skip
    return folder


def test_mimic_metrics_by_hand(mimic_dir: Path, tiny_linker: Linker) -> None:
    answers = {10: ["DB00619", "DB00945"], 20: ["DB00331"]}
    seen: list[PatientInput] = []

    def recommender(patient: PatientInput) -> AgentResult:
        seen.append(patient)
        hadm = int(str(patient.source).split(":")[1])
        return _result(answers[hadm], [], vetoed=["DB00682"] if hadm == 10 else [])

    ddi = DDIIndex()
    ddi.pairs.add(619 * 1_000_000 + 945)  # imatinib - aspirin
    result = run_mimic(recommender, mimic_dir=mimic_dir, linker=tiny_linker, ddi=ddi,
                       progress=False)  # fmt: skip
    assert all(p.medications == [] for p in seen)  # prescriptions never reach the agent
    assert result["mapping"]["rows"] == 4 and result["mapping"]["rows_mapped"] == 3
    assert result["skipped"]["no_mapped_prescription"] == 1  # admission 30
    agent = result["methods"]["agent"]
    # 10: {imatinib, aspirin} vs {imatinib, warfarin}: J 1/3, F1 1/2; 20: exact.
    assert agent["jaccard"] == pytest.approx((1 / 3 + 1) / 2)
    assert agent["f1"] == pytest.approx((0.5 + 1) / 2)
    assert agent["prauc"] == pytest.approx((0.5 + 1) / 2)
    assert agent["ddi_rate"] == pytest.approx(1 / 1)  # the only pair interacts
    assert result["ground_truth"]["ddi_rate"] == 0.0
    # Without safety the withheld warfarin comes back: 10 becomes {ima, asp, warf}.
    assert result["methods"]["agent-no-safety"]["jaccard"] == pytest.approx((2 / 3 + 1) / 2)
    assert result["methods"]["popularity"]["admissions"] == 2


def test_mimic_bad_prescription_line_is_named(mimic_dir: Path, tiny_linker: Linker) -> None:
    with (mimic_dir / "PRESCRIPTIONS.csv").open("a") as handle:
        handle.write("ten,Aspirin,\n")
    with pytest.raises(InvalidInputError, match=r"PRESCRIPTIONS.csv, line 7: HADM_ID"):
        run_mimic(lambda p: _result([], []), mimic_dir=mimic_dir, linker=tiny_linker,
                  ddi=DDIIndex(), progress=False)  # fmt: skip


# --- report -------------------------------------------------------------------------------


def test_report_renders_tables_plots_and_json(
    tasks: list[Task], sources: Sources, tiny_model: ReasoningModel, tmp_path: Path
) -> None:
    visible = cached_visible_tasks(tasks, sources, None, progress=False)
    methods: list[Method] = [RandomMethod(), KGPathMethod(), ModelMethod("base", tiny_model)]
    selection = {
        "tasks": len(tasks), "with_rationale": 1, "negatives": 2, "model_subset": len(tasks),
        "adapter": "not available",
        "methods": run_selection(tasks, visible, methods, model_tasks=None, progress=False),
    }  # fmt: skip
    results = {"command": "kedrec eval report", "versions": {"seed": 0}, "exprxrec": selection}
    report = write_report(results, tmp_path / "out")
    text = report.read_text()
    assert "| kg-path |" in text and "| base |" in text and "88.05" in text
    assert (tmp_path / "out" / "methods.png").stat().st_size > 1000
    assert (tmp_path / "out" / "latency.png").is_file()
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["command"] == "kedrec eval report"
    assert set(saved["exprxrec"]["methods"]) == {"random", "kg-path", "base"}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("*NF* Ketorolac 0.5% Ophth Soln", "ketorolac"),
        ("Acetaminophen (Liquid)", "acetaminophen"),
        ("Albumin 25% (12.5g / 50ml)", "albumin"),
        ("Clopidogrel Bisulfate", "clopidogrel"),
        ("Warfarin", "warfarin"),
    ],
)
def test_prescription_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_report_command_runs_every_part_and_records_the_command(
    tasks: list[Task], sources: Sources, tmp_path: Path, monkeypatch: Any
) -> None:
    from typer.testing import CliRunner

    from training.evaluation import cli, runs, vignettes
    from training.evaluation.suite import Harness

    visible = cached_visible_tasks(tasks, sources, None, progress=False)
    selection = {
        "tasks": len(tasks), "with_rationale": 1, "negatives": 2, "model_subset": len(tasks),
        "adapter": "not available",
        "methods": run_selection(tasks, visible, [KGPathMethod()], progress=False),
    }  # fmt: skip
    mimic = {
        "admissions_selected": 2, "admissions_evaluated": 1, "mimic_dir": "demo",
        "agent_model": "base", "max_drugs": 3, "abstention": 0.0,
        "latency": {"mean_s": 1.0, "p95_s": 1.0},
        "mapping": {"row_coverage": 0.5, "name_coverage": 0.5},
        "ground_truth": {"avg_drugs": 2.0, "ddi_rate": 0.0},
        "methods": {"agent": {"jaccard": 0.5, "f1": 0.5, "prauc": 0.5, "avg_drugs": 1.0,
                              "ddi_rate": 0.0}},
    }  # fmt: skip
    called: list[tuple[str, object]] = []

    def fake(name: str, value: dict[str, Any]) -> Any:
        def run(harness: Harness, *args: object, **kwargs: object) -> dict[str, Any]:
            called.append((name, kwargs.get("limit")))
            return value

        return run

    monkeypatch.setattr(runs, "exprxrec", fake("exprxrec", selection))
    monkeypatch.setattr(runs, "indications", fake("indications", {"diseases": 0, "methods": {}}))
    monkeypatch.setattr(runs, "mimic", fake("mimic", mimic))
    monkeypatch.setattr(vignettes, "run_benchmark", fake("vignettes", {}))
    monkeypatch.setattr(Harness, "versions", lambda self: {"seed": self.seed})

    def safedrug(mimic_dir: Path | None, seed: int, *, agent: bool) -> dict[str, Any]:
        called.append(("mimic_safedrug", agent))
        return {}

    monkeypatch.setattr(cli, "_safedrug_result", safedrug)
    out = tmp_path / "report"
    args = ["report", "--limit", "7", "--mimic-limit", "2", "--seed", "5", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["/venv/bin/kedrec", "eval", *args])
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert called == [
        ("exprxrec", 7), ("indications", None), ("mimic", 2), ("mimic_safedrug", False),
        ("vignettes", None),
    ]  # fmt: skip
    saved = json.loads((out / "report.json").read_text())
    assert saved["versions"] == {"seed": 5} and set(saved["seconds"]) == {
        "exprxrec", "indications", "mimic", "mimic_safedrug", "vignettes",
    }  # fmt: skip
    assert saved["command"].startswith("kedrec eval report --limit 7")
    text = (out / "report.md").read_text()
    assert "## MIMIC-III medications" in text and "| agent | 50.0 | 50.0 | 50.0 |" in text


def test_the_teachers_rationales_are_scored_against_drugmechdb(
    tasks: list[Task], sources: Sources, tiny_settings: Settings, tmp_path: Path
) -> None:
    from training.evaluation import runs
    from training.evaluation.suite import Harness

    harness = Harness(out=tmp_path, settings=tiny_settings, literature=False, progress=False)
    harness.__dict__.update(kg=sources.kg, base_model=sources.model, sources=sources)
    result = runs.teacher(harness, tasks)
    assert result["teacher"] == "evidence-teacher/2"
    assert result["tasks_with_rationale"] == sum(1 for t in tasks if t.rationale) == 1
    # Imatinib's shown items against "imatinib decreases activity of BCR/ABL; …".
    assert result["scored"] == 1 and not result["rejected"] and 0 < result["rougeL"] < 1
