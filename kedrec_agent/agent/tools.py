"""The whole agent as one LangChain tool, for clinical-assistant chatbots.

The chat model gets a short text (safety warnings first, then the recommended drugs with
their rationale and citations, or why there is none); the versioned answer
(:class:`~kedrec_agent.agent.result.AgentResult`, as JSON) is the tool message's artifact.

Example:
    >>> from kedrec_agent import kedrec_tool  # doctest: +SKIP
    >>> agent = create_agent(model, tools=[kedrec_tool])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from kedrec_agent.agent.result import DISCLAIMER, AgentResult
from kedrec_agent.errors import KedrecError
from kedrec_agent.patients.model import MAX_TEXT_CHARS, Item, validation_message

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Recommend drugs for a patient, with the evidence behind each (knowledge-graph facts "
    "and PubMed / ClinicalTrials.gov citations) and safety warnings (interactions with "
    "current medications, allergy conflicts, duplicate therapy). Input: a free-text patient "
    "description naming the conditions, current medications, allergies, age and sex, and/or "
    "the same as structured fields (names or codes: MeSH, DOID, ICD-9, DrugBank). "
    "Decision support for a clinician only, not a prescription: relay the warnings first "
    "and never present the result as an order."
)


class KedrecInput(BaseModel):
    """Arguments of the KEDRec tool."""

    model_config = ConfigDict(extra="forbid")

    patient: str = Field(
        default="",
        max_length=MAX_TEXT_CHARS,
        description="free-text patient description, e.g. '68-year-old man with type 2 "
        "diabetes and hypertension on warfarin, allergic to penicillin'",
    )
    conditions: list[Item] = Field(default_factory=list, description="diagnoses (names/codes)")
    medications: list[Item] = Field(default_factory=list, description="current medications")
    allergies: list[Item] = Field(default_factory=list, description="drug allergies")
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["female", "male"] | None = None
    top_k: int = Field(default=5, ge=1, le=20, description="candidate drugs per condition")


def summarize(result: AgentResult) -> str:
    """Concise, LLM-readable text of an answer: warnings first, then the choices."""
    lines = [DISCLAIMER]
    lines += [
        f"{'WITHHELD' if w.severity == 'veto' else 'WARNING'}: {w.message}" for w in result.warnings
    ]
    lines += [f"Note: {note}" for note in result.notes]
    if result.abstained:
        return "\n".join([*lines, f"No recommendation: {result.reason}"])
    for drug in result.recommendations:
        cites = [e.citation or f"KG:{e.id}" for e in drug.evidence]
        lines.append(
            f"{drug.rank}. {drug.name} ({drug.drug_id}): {drug.rationale} "
            f"[{', '.join(cites) or 'no citation'}]"
        )
    how = "ranked by evidence (model answer unusable)" if result.fallback else "model"
    lines.append(f"Confidence {result.confidence or 0:.2f} ({how}).")
    return "\n".join(lines)


def invalid_arguments(exc: Exception) -> str:
    """The tool's answer to invalid arguments: which fields are wrong, never their values."""
    if isinstance(exc, ValidationError):
        return f"KEDRec could not answer: {validation_message(exc, 'The tool call')}"
    return "KEDRec could not answer: the tool call is invalid."


class KedrecTool(BaseTool):
    """LangChain tool running the KEDRec graph on a patient.

    Args:
        graph: a compiled graph to run (default: the package's graph, built on first use).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "kedrec_recommend"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = KedrecInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    _graph: Any = PrivateAttr(default=None)

    def __init__(self, graph: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("handle_validation_error", invalid_arguments)  # a message, no crash
        super().__init__(**kwargs)
        self._graph = graph

    def _run(self, top_k: int = 5, **patient: Any) -> tuple[str, dict[str, Any]]:
        from kedrec_agent.api import recommend

        fields = {"text": patient.pop("patient", ""), **patient}
        try:
            result = recommend(fields, graph=self._graph, top_k=top_k)
        except KedrecError as exc:
            log.warning("kedrec tool failed: %s", type(exc).__name__)
            return f"KEDRec could not answer: {exc}", {"error": str(exc)}
        return summarize(result), result.model_dump()
