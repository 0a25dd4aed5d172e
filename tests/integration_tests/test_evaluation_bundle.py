"""The evaluation harness on the real stores: a handful of dev tasks and MIMIC-III admissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import split_files
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from training.evaluation import runs
from training.evaluation.cli import app
from training.evaluation.exprxrec import cached_visible_tasks
from training.evaluation.mimic import DDIIndex, agent_recommender, run_mimic
from training.evaluation.suite import Harness
from training.tasks.build import build_tasks

pytestmark = pytest.mark.integration

FIRST = 6


@pytest.fixture(scope="module")
def dev_head(bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first dev diseases, as their own list (any list in the format must work)."""
    diseases = split_files("dev", bundle_settings).diseases
    path = tmp_path_factory.mktemp("eval") / "diseases_head.txt"
    path.write_text("".join(diseases.read_text().splitlines(keepends=True)[:FIRST]))
    return path


@pytest.fixture(scope="module")
def harness(bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    out = tmp_path_factory.mktemp("eval-out")
    return Harness(out=out, settings=bundle_settings, progress=False)


def test_masked_gold_is_invisible_on_the_real_graph(
    harness: Harness, dev_head: Path, bundle_kg: KnowledgeGraph, bundle_settings: Settings
) -> None:
    _, indications, rationales = split_files("dev", bundle_settings)
    tasks = build_tasks(dev_head, indications, rationales, settings=bundle_settings)
    visible = cached_visible_tasks(tasks, harness.sources, harness.out / "cache", progress=False)
    assert visible, "the first dev diseases give tasks"
    was_visible = 0
    for task in tasks:
        before = {r.drug.local_id for r in bundle_kg.drugs_for_disease(task.disease)}
        was_visible += task.positive in before
        masked = bundle_kg.with_exclusions(task.exclusions)
        after = {r.drug.local_id for r in masked.drugs_for_disease(task.disease)}
        assert not after & {c.id for c in task.candidates}
        for item in visible[task.task_id].evidence:
            if item.kind == "kg" and task.positive in item.drugs:
                assert " treats " not in item.text and "palliates" not in item.text, item.text
    assert was_visible, "some gold edge is in the unmasked graph: the test is not vacuous"


def test_baselines_on_dev_head_through_the_cli(harness: Harness, dev_head: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["exprxrec", "--diseases", str(dev_head), "--no-models", "--out", str(harness.out)],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((harness.out / "exprxrec.json").read_text())
    methods = saved["exprxrec"]["methods"]
    assert set(methods) == {"random", "popularity", "kg-path", "kg-embedding"}
    assert saved["versions"]["adapter"] and saved["exprxrec"]["data_hash"]
    assert methods["kg-path"]["metrics"]["tasks"] == saved["exprxrec"]["tasks_with_evidence"]
    bad = harness.out / "bad.txt"
    bad.write_text("MESH:D015464\nnot a disease\n")
    failed = CliRunner().invoke(app, ["exprxrec", "--diseases", str(bad), "--no-models"])
    assert failed.exit_code == 2 and "bad.txt, line 2" in failed.output


SHORT_ADMISSION = 110244  # 4 diagnoses: the cheapest demo admission to run the agent on


def test_mimic_demo_admission_through_the_agent(harness: Harness) -> None:
    result = run_mimic(
        agent_recommender(max_choices=3, literature=False),
        admissions=[SHORT_ADMISSION],
        ddi=DDIIndex.from_settings(harness.settings),
        progress=False,
    )
    assert result["admissions_evaluated"] == 1
    assert result["mapping"]["row_coverage"] > 0.5  # most demo prescriptions map to DrugBank
    agent = result["methods"]["agent"]
    assert 0.0 <= agent["f1"] <= 1.0 and agent["avg_drugs"] <= 3
    assert result["latency"]["mean_s"] > 0


def test_indications_baselines_give_auroc(harness: Harness) -> None:
    result = runs.indications(harness, models=False)
    assert result["diseases"] >= 5
    kg_path = result["methods"]["kg-path"]
    assert kg_path["pairs"] > 50 and 0.0 <= kg_path["auroc"] <= 1.0
