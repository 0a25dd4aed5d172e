"""The whole agent as one LangChain tool, for clinical-assistant chatbots.

The chat model gets a short text (safety warnings first, then the recommended drugs with
their rationale and citations, or why there is none); the full graph output is the
tool message's artifact.

Example:
    >>> from kedrec_agent import kedrec_tool  # doctest: +SKIP
    >>> agent = create_agent(model, tools=[kedrec_tool])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from kedrec_agent.agent.context import Context
from kedrec_agent.errors import KedrecError

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Recommend drugs for a patient, with the evidence behind each (knowledge-graph facts "
    "and PubMed / ClinicalTrials.gov citations) and safety warnings (interactions with "
    "current medications, allergy conflicts, duplicate therapy). Input: a free-text patient "
    "description naming the conditions, current medications, allergies, age and sex. "
    "Decision support for a clinician only, not a prescription: relay the warnings first "
    "and never present the result as an order."
)


class KedrecInput(BaseModel):
    """Arguments of the KEDRec tool."""

    model_config = ConfigDict(extra="forbid")

    patient: str = Field(
        min_length=1,
        max_length=20_000,
        description="free-text patient description, e.g. '68-year-old man with type 2 "
        "diabetes and hypertension on warfarin, allergic to penicillin'",
    )
    top_k: int = Field(default=5, ge=1, le=20, description="candidate drugs per condition")


def summarize(result: dict[str, Any]) -> str:
    """Concise, LLM-readable text of a graph result: warnings first, then the choices."""
    lines = ["Decision support for a clinician, not a prescription."]
    lines += [
        f"{'WITHHELD' if w['severity'] == 'veto' else 'WARNING'}: {w['message']}"
        for w in result.get("warnings", [])
    ]
    lines += [f"Note: {note}" for note in result.get("notes", [])]
    if result.get("abstained"):
        return "\n".join([*lines, f"No recommendation: {result.get('reason', '')}"])
    rec = result.get("recommendation") or {}
    items = {e["id"]: e for e in result.get("reasoning_evidence", [])}
    if not rec.get("choices"):
        lines.append("No drug is recommended: the evidence does not support one.")
    for rank, choice in enumerate(rec.get("choices", []), start=1):
        cites = [items.get(e, {}).get("citation") or f"KG:{e}" for e in choice["evidence_ids"]]
        lines.append(
            f"{rank}. {choice['drug_name']} ({choice['drug_id']}): {choice['rationale']} "
            f"[{', '.join(cites) or 'no citation'}]"
        )
    if rec:
        how = "ranked by evidence (model answer unusable)" if rec.get("fallback") else "model"
        lines.append(f"Confidence {rec.get('confidence', 0):.2f} ({how}).")
    return "\n".join(lines)


class KedrecTool(BaseTool):
    """LangChain tool running the KEDRec graph on a patient description.

    Args:
        graph: a compiled graph to run (default: the package's graph, built on first use).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "kedrec_recommend"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = KedrecInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_validation_error: bool = True  # bad arguments become a message, not a crash
    _graph: Any = PrivateAttr(default=None)

    def __init__(self, graph: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graph = graph

    def _run(self, patient: str, top_k: int = 5) -> tuple[str, dict[str, Any]]:
        if self._graph is None:
            from kedrec_agent.agent.graph import build_graph

            self._graph = build_graph()
        try:
            result = self._graph.invoke({"patient": patient}, context=Context(top_k=top_k))
        except KedrecError as exc:
            log.warning("kedrec tool failed: %s", type(exc).__name__)
            return f"KEDRec could not answer: {exc}", {"error": str(exc)}
        return summarize(result), dict(result)
