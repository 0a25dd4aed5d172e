"""The chatbot tool's text, artifact and failure modes (with a stand-in graph)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolMessage

from kedrec_agent.agent.tools import KedrecTool
from kedrec_agent.errors import StoreUnavailableError

RESULT: dict[str, Any] = {
    "abstained": False,
    "warnings": [
        {"kind": "allergy", "severity": "veto", "drug_id": "DB01060",
         "message": "Amoxicillin is withheld: the patient is allergic to Penicillins."},
        {"kind": "interaction", "severity": "warning", "drug_id": "DB00722",
         "message": "Lisinopril may increase the effect of Warfarin."},
    ],
    "recommendation": {
        "choices": [{"drug_id": "DB00722", "drug_name": "Lisinopril", "rationale": "Lowers BP.",
                     "evidence_ids": ["E1", "E2"], "grounded": True}],
        "confidence": 0.7, "fallback": False,
    },
    "reasoning_evidence": [{"id": "E1", "citation": None}, {"id": "E2", "citation": "PMID:1"}],
}  # fmt: skip


class _Graph:
    def __init__(self, result: dict[str, Any] | Exception) -> None:
        self.result = result
        self.calls: list[tuple[dict[str, Any], Any]] = []

    def invoke(self, state: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self.calls.append((state, context))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _call(tool: KedrecTool, args: dict[str, Any]) -> ToolMessage:
    message = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage)
    return message


def test_text_puts_warnings_first_and_cites_evidence() -> None:
    graph = _Graph(RESULT)
    message = _call(KedrecTool(graph=graph), {"patient": "hypertension on warfarin", "top_k": 3})
    lines = str(message.content).splitlines()
    assert lines[0].startswith("Decision support for a clinician, not a prescription")
    assert lines[1].startswith("WITHHELD: Amoxicillin") and lines[2].startswith("WARNING:")
    assert "1. Lisinopril (DB00722): Lowers BP. [KG:E1, PMID:1]" in lines
    assert message.artifact["recommendation"]["choices"][0]["drug_id"] == "DB00722"
    assert graph.calls[0][0] == {"patient": "hypertension on warfarin"}
    assert graph.calls[0][1].top_k == 3


def test_abstention_and_store_failure_are_answers_not_crashes() -> None:
    abstained = _call(KedrecTool(graph=_Graph({"abstained": True, "reason": "No condition."})),
                      {"patient": "feels fine"})  # fmt: skip
    assert "No recommendation: No condition." in str(abstained.content)
    down = _call(KedrecTool(graph=_Graph(StoreUnavailableError("Postgres at x:5432 is down"))),
                 {"patient": "hypertension"})  # fmt: skip
    assert "could not answer" in str(down.content) and "error" in down.artifact


def test_bad_arguments_become_a_message() -> None:
    graph = _Graph(RESULT)
    for args in ({"patient": ""}, {"patient": "x", "top_k": 99}, {"patient": "x", "drop": 1}):
        message = _call(KedrecTool(graph=graph), args)
        assert message.content and not graph.calls
