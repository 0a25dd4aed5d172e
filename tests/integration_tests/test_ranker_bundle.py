"""The shipped ranker on the real stores: it loads, and scores a few masked dev tasks."""

from __future__ import annotations

import numpy as np
import pytest

from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import split_files
from kedrec_agent.errors import StoreNotBuiltError, StoreUnavailableError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.search import LiteratureSearch
from kedrec_agent.ranking import (
    FEATURE_NAMES,
    PACKAGED_RANKER,
    DrugTables,
    candidate_features,
    load_ranker,
)
from kedrec_agent.ranking.literature import condition_literature
from kedrec_agent.ranking.semantic import NameSimilarity
from training.ranker_data import EvidenceSources, masked_view, task_evidence
from training.tasks.build import build_tasks
from training.tasks.schema import Task

pytestmark = pytest.mark.integration

FIRST = 3


@pytest.fixture(scope="module")
def dev_tasks(bundle_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> list[Task]:
    """Tasks of the first dev diseases (the graph only: no literature store needed)."""
    diseases, indications, rationales = split_files("dev", bundle_settings)
    head = tmp_path_factory.mktemp("ranker") / "diseases_head.txt"
    head.write_text("".join(diseases.read_text().splitlines(keepends=True)[:FIRST]))
    train = split_files("train", bundle_settings).diseases
    tasks = build_tasks(head, indications, rationales, forbidden=[train], drop_forbidden=True,
                        settings=bundle_settings)  # fmt: skip
    assert tasks, "the first dev diseases give tasks"
    return tasks[:4]


def test_the_shipped_ranker_loads_and_matches_the_code() -> None:
    ranker = load_ranker()
    assert ranker.features == FEATURE_NAMES
    assert ranker.temperature > 0
    assert ranker.metadata["seed"] == 0 and ranker.metadata["train_tasks"] > 1000


def test_the_shipped_ranker_scores_masked_dev_tasks(
    dev_tasks: list[Task], bundle_kg: KnowledgeGraph, bundle_settings: Settings
) -> None:
    ranker = load_ranker()
    tables = DrugTables.from_settings(bundle_settings)
    assert tables.classes, "the bundle's safety/ tables are read"
    names = NameSimilarity.from_settings(bundle_settings)
    sources = EvidenceSources(bundle_kg, literature=None)
    text: list[float] = []
    for task in dev_tasks:
        evidence = task_evidence(task, sources)
        view = masked_view(bundle_kg, task)
        assert not any(c.edges for c in evidence.candidates), "the gold edge is masked"
        matrix = np.vstack([candidate_features(c, (), view, tables=tables, names=names)
                            for c in evidence.candidates])  # fmt: skip
        assert np.isfinite(matrix).all()
        prob = ranker.probabilities(matrix)
        assert prob.shape == (len(task.candidates),)
        assert prob.sum() == pytest.approx(1.0) and (prob > 0).all()
        ranked = ranker.rank(evidence.candidates, {}, view, tables=tables)  # default names
        assert set(ranked) == {c.id for c in task.candidates}
        assert list(ranked.values()) == pytest.approx(list(prob))
        text.extend(matrix[:, FEATURE_NAMES.index("class_text_best")])
    assert max(text) > 0.2, "the drugs' class names are compared with the condition's"


def test_the_card_ships_beside_the_artifact() -> None:
    text = PACKAGED_RANKER.with_name("RANKER_CARD.md").read_text()
    assert "kedrec train ranker" in text and "train** diseases only" in text


def test_the_shipped_ranker_with_the_literature(
    dev_tasks: list[Task], bundle_kg: KnowledgeGraph, bundle_settings: Settings
) -> None:
    """The serving path: passages and corpus-wide counts, as the harness gathers them."""
    try:
        search = LiteratureSearch.from_settings(bundle_settings)
    except (StoreNotBuiltError, StoreUnavailableError) as exc:
        pytest.skip(f"literature store unavailable: {exc}")
    ranker = load_ranker()
    tables = DrugTables.from_settings(bundle_settings)
    task = dev_tasks[0]
    evidence = task_evidence(task, EvidenceSources(bundle_kg, search))
    context = {task.disease: condition_literature(search, bundle_kg, task.disease)}
    ranked = ranker.rank(
        evidence.candidates,
        evidence.hits,
        masked_view(bundle_kg, task),
        tables=tables,
        literature=context,
    )
    assert set(ranked) == {c.id for c in task.candidates}
    assert sum(ranked.values()) == pytest.approx(1.0)
