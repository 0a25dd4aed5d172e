"""Tasks built from the real data bundle: gold invisible after masking, no split leakage."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedrec_agent.config import Settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker
from training.tasks.build import build_tasks
from training.tasks.inputs import read_diseases
from training.tasks.schema import Task
from training.tasks.summary import summarize_tasks

pytestmark = pytest.mark.integration

FIRST = 20


def _split(settings: Settings, split: str) -> tuple[Path, Path, Path]:
    return (
        settings.data_file(f"splits/diseases_{split}.txt"),
        settings.data_file(f"eval/pharmacotherapydb/indications_{split}.tsv"),
        settings.data_file(f"eval/drugmechdb/paths_{split}.jsonl"),
    )


@pytest.fixture(scope="module")
def train_tasks(bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> list[Task]:
    diseases, indications, rationales = _split(bundle_settings, "train")
    first = tmp_path_factory.mktemp("tasks") / "diseases_train.txt"
    first.write_text("".join(diseases.read_text().splitlines(keepends=True)[:FIRST]))
    dev = bundle_settings.data_file("splits/diseases_dev.txt")
    return build_tasks(first, indications, rationales, forbidden=[dev], settings=bundle_settings)


def test_first_train_diseases_give_tasks(train_tasks: list[Task]) -> None:
    summary = summarize_tasks(train_tasks)
    assert summary.stats is not None and summary.stats.diseases_listed == FIRST
    assert summary.diseases_used >= FIRST - 3
    assert summary.tasks >= summary.diseases_used
    assert all(len(t.candidates) == 5 for t in train_tasks)
    assert all(t.split == "train" for t in train_tasks)


def test_gold_is_invisible_after_masking(
    train_tasks: list[Task], bundle_kg: KnowledgeGraph
) -> None:
    for task in train_tasks:
        before = {row.drug.local_id for row in bundle_kg.drugs_for_disease(task.disease)}
        masked = bundle_kg.with_exclusions(task.exclusions)
        visible = masked.drugs_for_disease(task.disease)
        assert not {row.drug.local_id for row in visible} & {c.id for c in task.candidates}
        # The negatives were never indications, masked or not.
        negatives = {c.id for c in task.candidates if c.negative != "positive"}
        assert not negatives & before, task.task_id


def test_no_task_disease_is_in_the_dev_split(
    train_tasks: list[Task], bundle_settings: Settings
) -> None:
    linker = get_linker(bundle_settings)
    dev = read_diseases(bundle_settings.data_file("splits/diseases_dev.txt"), linker)
    dev_ids = {i for c in dev for i in c.equivalents}
    for task in train_tasks:
        assert linker.equivalences.concept(task.disease).equivalents.isdisjoint(dev_ids)
        assert {d for _, d in task.exclusions}.isdisjoint(dev_ids)


def test_candidates_are_named_by_the_linker(
    train_tasks: list[Task], bundle_settings: Settings
) -> None:
    linker = get_linker(bundle_settings)
    for task in train_tasks:
        assert all(c.name == linker.name_of(c.id) for c in task.candidates)


def test_bundle_splits_share_one_concept(bundle_settings: Settings) -> None:
    """Hashimoto disease (train) and autoimmune thyroiditis (dev) share DOID:7188."""
    diseases, indications, rationales = _split(bundle_settings, "train")
    dev = bundle_settings.data_file("splits/diseases_dev.txt")
    with pytest.raises(InvalidInputError, match=r"1 disease\(s\).*MESH:D050031"):
        build_tasks(diseases, indications, rationales, forbidden=[dev], settings=bundle_settings)
    tasks = build_tasks(
        diseases, indications, rationales, forbidden=[dev], settings=bundle_settings,
        drop_forbidden=True,
    )  # fmt: skip
    assert "MESH:D013967" not in {t.disease for t in tasks}
    assert len(tasks) > 1500
