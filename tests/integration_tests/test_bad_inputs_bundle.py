"""A sample of the bad-input corpus end to end on the real stores and the real model.

The cases marked ``e2e`` in tests/fixtures/bad_inputs/ run through ``recommend``; those
that end before the model (errors, abstentions) also through the chatbot tool and
``kedrec ask``. Same checks as on the tiny bundle (clear errors, cited ids returned by the
tools, injected text changing nothing), and the stores are unchanged afterwards: the
knowledge graph's triple count, and the literature tables' row counts and a checksum.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedrec_agent import api
from kedrec_agent.config import Settings
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.db import Database
from tests.bad_inputs import (
    Recorder,
    base_outputs,
    check_outcome,
    cli_args,
    load_corpus,
    materialize,
    tool_args,
    via_api,
    via_cli,
    via_tool,
)

pytestmark = pytest.mark.integration
SAMPLE = [c for c in load_corpus() if c.get("e2e")]


def _stores(settings: Settings, kg: KnowledgeGraph) -> dict[str, Any]:
    with Database.open(settings).connection() as conn:
        passages = conn.execute(
            "SELECT count(*), coalesce(sum(hashtext(title || body)::bigint), 0) FROM passages"
        ).fetchone()
        documents = conn.execute("SELECT count(*) FROM documents").fetchone()
        terms = conn.execute("SELECT count(*) FROM lexeme_stats").fetchone()
    # COUNT in the store (2.5 s), not len(graph): rdflib iterates every triple (18 s)
    rows = list(kg.graph.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"))
    return {"triples": rows, "passages": passages, "documents": documents, "terms": terms}


@pytest.fixture(scope="module")
def stores_before(bundle_settings: Settings, bundle_kg: KnowledgeGraph) -> dict[str, Any]:
    return _stores(bundle_settings, bundle_kg)


@pytest.fixture(scope="module")
def graph(stores_before: dict[str, Any]) -> Iterator[Recorder]:
    recorder = Recorder(api.default_graph())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "default_graph", lambda: recorder)
        yield recorder


@pytest.fixture(scope="module")
def bases(graph: Recorder) -> dict[str, dict[str, Any]]:
    return base_outputs(SAMPLE, graph)


def test_the_sample_covers_errors_abstentions_answers_and_injections() -> None:
    assert 20 <= len(SAMPLE) <= 30
    assert {c["expect"] for c in SAMPLE} >= {"error", "abstain", "answer"}
    assert sum("base" in c for c in SAMPLE) >= 4


@pytest.mark.parametrize("case", SAMPLE, ids=[c["id"] for c in SAMPLE])
def test_bad_input_end_to_end(
    case: dict[str, Any], graph: Recorder, bases: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    expect = {"abstain", "answer"} if case["expect"] == "any" else {case["expect"]}
    patient = materialize(case["patient"], tmp_path, case["id"])
    outcomes = [via_api(patient, graph)]
    if case["expect"] in ("error", "abstain"):  # cheap: the other ways in too
        if (args := tool_args(patient)) is not None:
            outcomes.append(via_tool(args, graph))
        if (argv := cli_args(patient, tmp_path, case["id"])) is not None:
            outcomes.append(via_cli(argv, graph))
    for outcome in outcomes:
        check_outcome(case, outcome, expect, bases)


def test_zz_stores_are_unchanged(
    bundle_settings: Settings, bundle_kg: KnowledgeGraph, stores_before: dict[str, Any]
) -> None:
    assert _stores(bundle_settings, bundle_kg) == stores_before
