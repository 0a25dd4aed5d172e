"""The LangChain tool, the CLI and the placeholder graph on the real bundle."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
from langchain_core.messages import ToolMessage
from typer.testing import CliRunner

from kedrec_agent.cli import app
from kedrec_agent.config import Settings
from kedrec_agent.kg.build import count_triples
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.tool import KnowledgeGraphTool
from kedrec_agent.linking import get_linker

pytestmark = pytest.mark.integration
runner = CliRunner()
MALICIOUS = 'x" } DROP ALL ; #'


@pytest.fixture(scope="module")
def tool(bundle_kg: KnowledgeGraph, bundle_settings: Settings) -> KnowledgeGraphTool:
    return KnowledgeGraphTool(kg=bundle_kg, linker=get_linker(bundle_settings))


def _call(tool: KnowledgeGraphTool, **args: object) -> ToolMessage:
    message = tool.invoke({"type": "tool_call", "id": "t1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage)
    return message


def test_tool_links_names_and_returns_rows(tool: KnowledgeGraphTool) -> None:
    message = _call(tool, operation="drugs_for_disease", disease="chronic myeloid leukemia")
    assert message.artifact["linked"]["disease"]["canonical"] == "MESH:D015464"
    ids = {row["drug"]["id"] for row in message.artifact["rows"]}
    assert "Compound::DB00619" in ids
    assert "Imatinib" in message.content


def test_tool_related_indications_rank_the_closest_disease_first(
    tool: KnowledgeGraphTool,
) -> None:
    message = _call(
        tool, operation="related_indications", drug="imatinib", disease="chronic myeloid leukemia"
    )
    rows = message.artifact["rows"]
    assert rows and "MESH:D015464" not in {r["disease"]["id"].partition("::")[2] for r in rows}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert rows[0]["ancestor"] == "Leukemia"  # a sibling leukaemia, by the MeSH tree
    assert "both under Leukemia" in message.content


def test_tool_interactions_warn(tool: KnowledgeGraphTool) -> None:
    message = _call(tool, operation="interactions", drugs=["warfarin", "aspirin"])
    assert "INTERACTION" in message.content
    assert message.artifact["rows"]


def test_tool_unknown_and_malicious_names_answer_with_suggestions(
    tool: KnowledgeGraphTool, bundle_settings: Settings
) -> None:
    store = ox.Store.read_only(str(bundle_settings.kg_store_dir))
    before = count_triples(store)
    for bad in ("xyzzy plugh", MALICIOUS, "imatinib'; DROP TABLE drugs; --"):
        message = _call(tool, operation="drug_genes", drug=bad)
        assert "error" in message.artifact
        assert "Unknown drug" in message.content
    assert count_triples(ox.Store.read_only(str(bundle_settings.kg_store_dir))) == before


def test_tool_schema_rejects_missing_arguments(tool: KnowledgeGraphTool) -> None:
    answer = str(tool.invoke({"operation": "mechanism_paths"}))  # a message, not a crash
    assert answer.startswith("The knowledge graph tool could not answer: The tool call is")
    assert "operation mechanism_paths needs: drug, disease" in answer


def test_cli_drugs_for_json() -> None:
    result = runner.invoke(app, ["kg", "drugs-for", "chronic myeloid leukemia", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert "Compound::DB00619" in {r["drug"]["id"] for r in rows}


def test_cli_paths_and_interactions() -> None:
    paths = runner.invoke(app, ["kg", "paths", "imatinib", "chronic myeloid leukemia", "--json"])
    assert paths.exit_code == 0, paths.output
    assert json.loads(paths.stdout)["linked"]["drug"]["id"] == "DB00619"
    inter = runner.invoke(
        app, ["kg", "interactions", "warfarin", "simvastatin", "clarithromycin", "--json"]
    )
    assert inter.exit_code == 0, inter.output
    pairs = {
        frozenset((r["drug_a"]["id"], r["drug_b"]["id"])) for r in json.loads(inter.stdout)["rows"]
    }
    assert frozenset(("Compound::DB00641", "Compound::DB01211")) in pairs


def test_cli_unknown_name_exits_2_with_suggestions() -> None:
    result = runner.invoke(app, ["kg", "drugs-for", "chronic zebra fever"])
    assert result.exit_code == 2
    assert "Unknown disease" in result.stderr
    malicious = runner.invoke(app, ["kg", "drugs-for", MALICIOUS])
    assert malicious.exit_code == 2
    assert "Traceback" not in malicious.output


@pytest.mark.parametrize(
    "command",
    [[], ["setup"], ["ask"], ["link"], ["kg"], ["kg", "drugs-for"], ["kg", "paths"],
     ["kg", "interactions"], ["kg", "facts"], ["kg", "candidates"], ["train"],
     ["train", "tasks"], ["train", "collect"], ["train", "sft"], ["eval", "adapter"],
     ["train", "all"]],
)  # fmt: skip
def test_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_graph_answers_sample_patient_with_kg_evidence() -> None:
    from graphs.kedrec import graph

    note = "68-year-old man with type 2 diabetes and hypertension on warfarin"
    result = graph.invoke({"patient": note})
    assert not result["result"]["abstained"], result["result"]["reason"]
    candidates = result["evidence"]["candidates"]
    conditions = {c["condition"] for c in candidates}
    assert conditions == {"MESH:D003924", "MESH:D006973"}
    for cand in candidates:  # every candidate stands on a graph edge to its condition
        assert cand["edges"] or cand["via"] == "mechanism"
    warfarin = [
        i
        for i in result["evidence"]["interactions"]
        if "Compound::DB00682" in i["edges"][0].values()
    ]
    assert warfarin, "warfarin's interactions with candidates must be reported"
    # literature and reasoning: the answer chooses candidates and cites only numbered items
    rec = result["recommendation"]
    offered = {c["drug"]["id"].partition("::")[2] for c in candidates if not c["already_taking"]}
    items = {e["id"]: e for e in result["reasoning_evidence"]}
    assert rec["choices"] and {c["drug_id"] for c in rec["choices"]} <= offered
    assert all(set(c["evidence_ids"]) <= set(items) for c in rec["choices"])
    assert any(e["citation"] for e in items.values()), "literature passages are cited evidence"
    assert all(set(hits) <= offered for hits in [result["literature"]])


def test_ask_prints_warnings_first_then_cited_drugs() -> None:
    note = "58-year-old woman with hypertension on warfarin"
    result = runner.invoke(app, ["ask", note])
    assert result.exit_code == 0, result.output
    text = result.stdout
    answer = text[text.index("decision support for a clinician") :]
    assert answer.index("WARNING") < answer.index("1. ")  # interactions with warfarin first
    assert "✓ reason" in text and "[1]" in answer
    as_json = runner.invoke(app, ["ask", note, "--json", "--no-literature"])
    data = json.loads(as_json.stdout)
    assert data["schema_version"] == "kedrec.recommendation/2"
    assert "Literature search was switched off for this run." in data["notes"]


def test_ask_needs_exactly_one_patient() -> None:
    for args in (["ask"], ["ask", "gout", "--mimic", "1"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Describe one patient" in result.stderr


def test_graph_abstains_without_a_condition() -> None:
    from graphs.kedrec import graph

    result = graph.invoke({"patient": "feels fine, no complaints"})
    assert result["abstained"] and result["reason"]
