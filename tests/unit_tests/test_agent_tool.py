"""The chatbot tool's text, artifact and failure modes (with a stand-in graph)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolMessage

from kedrec_agent.agent.result import AgentResult, DrugRecommendation, Versions
from kedrec_agent.agent.tools import KedrecTool
from kedrec_agent.errors import StoreUnavailableError
from kedrec_agent.reasoning.schema import Evidence
from kedrec_agent.safety.checks import SafetyWarning

EVIDENCE = [
    Evidence(id="E1", kind="kg", text="Lisinopril treats hypertension.", drugs=["DB00722"]),
    Evidence(id="E2", kind="literature", text="A trial.", drugs=["DB00722"], citation="PMID:1"),
]
RESULT = AgentResult(
    abstained=False,
    warnings=[
        SafetyWarning(kind="allergy", severity="veto", drug_id="DB01060",
                      message="Amoxicillin is withheld: the patient is allergic to Penicillins."),
        SafetyWarning(kind="interaction", severity="warning", drug_id="DB00722",
                      message="Lisinopril may increase the effect of Warfarin."),
    ],
    recommendations=[
        DrugRecommendation(rank=1, drug_id="DB00722", name="Lisinopril", score=1.0,
                           rationale="Lowers BP.", grounded=True, evidence=EVIDENCE,
                           indicated_by=["DrugBank"]),
    ],
    confidence=0.7,
    versions=Versions(package="0", prompt="p", model="m", data="d"),
)  # fmt: skip
ABSTAINED = AgentResult(abstained=True, reason="No condition.", versions=RESULT.versions)


class _Graph:
    def __init__(self, result: AgentResult | Exception) -> None:
        self.result = result
        self.calls: list[tuple[dict[str, Any], Any]] = []

    def invoke(self, state: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self.calls.append((state, context))
        if isinstance(self.result, Exception):
            raise self.result
        return {"result": self.result.model_dump()}


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
    assert (
        "1. Lisinopril (DB00722, listed indication: DrugBank): Lowers BP. [KG:E1, PMID:1]" in lines
    )
    assert message.artifact["recommendations"][0]["drug_id"] == "DB00722"
    assert graph.calls[0][0] == {"patient": "hypertension on warfarin", "record": {}}
    assert graph.calls[0][1].top_k == 3


def test_abstention_and_store_failure_are_answers_not_crashes() -> None:
    abstained = _call(KedrecTool(graph=_Graph(ABSTAINED)), {"patient": "feels fine"})
    assert "No recommendation: No condition." in str(abstained.content)
    down = _call(KedrecTool(graph=_Graph(StoreUnavailableError("Postgres at x:5432 is down"))),
                 {"patient": "hypertension"})  # fmt: skip
    assert "could not answer" in str(down.content) and "error" in down.artifact


def test_structured_arguments_reach_the_graph() -> None:
    graph = _Graph(RESULT)
    args = {"conditions": ["DOID:9352"], "medications": ["warfarin"], "age": 70, "sex": "male"}
    _call(KedrecTool(graph=graph), args)
    assert graph.calls[0][0] == {
        "patient": "",
        "record": {"conditions": ["DOID:9352"], "medications": ["warfarin"], "age": 70,
                   "sex": "male"},
    }  # fmt: skip


def test_bad_arguments_become_a_message() -> None:
    graph = _Graph(RESULT)
    bad: list[dict[str, Any]] = [
        {"patient": ""},
        {},
        {"patient": "x", "top_k": 99},
        {"patient": "x", "drop": 1},
        {"conditions": ["x"], "age": -1},
        {"conditions": [""]},
    ]
    for args in bad:
        message = _call(KedrecTool(graph=graph), args)
        assert message.content and not graph.calls


def test_the_cli_prints_cited_evidence_ids_as_its_reference_numbers() -> None:
    from kedrec_agent.cli import _numbered

    text = "Carvedilol treats heart failure [E12]; reported in PMID:1 [E13], and E14."
    assert _numbered(text, {"E12": 4, "E13": 5}) == (
        "Carvedilol treats heart failure [4]; reported in PMID:1 [5], and E14."
    )
