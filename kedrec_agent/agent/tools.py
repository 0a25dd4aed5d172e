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

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from kedrec_agent.agent.graph import build_graph
from kedrec_agent.agent.invoke import default_graph, graph_input, make_context, result_of
from kedrec_agent.agent.result import DISCLAIMER, AgentResult
from kedrec_agent.errors import KedrecError
from kedrec_agent.patients.model import MAX_TEXT_CHARS, Item
from kedrec_agent.services import Services
from kedrec_agent.tool_base import ServiceTool

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Recommend drugs for a patient, with the evidence behind each (knowledge-graph facts "
    "and PubMed / ClinicalTrials.gov citations) and safety warnings (interactions with "
    "current medications, allergy conflicts, duplicate therapy). Input: a free-text patient "
    "description naming the conditions, current medications, allergies, age, sex and any "
    "pregnancy, and/or "
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
    pregnant: bool | None = Field(
        default=None, description="pregnant or planning a pregnancy (false: stated not)"
    )
    top_k: int = Field(default=5, ge=1, le=20, description="candidate drugs per condition")


def summarize(result: AgentResult) -> str:
    """Concise, LLM-readable text of an answer: warnings first, then each condition's options."""
    lines = [DISCLAIMER]
    lines += [
        f"{'WITHHELD' if w.severity == 'veto' else 'WARNING'}: {w.message}" for w in result.warnings
    ]
    lines += [f"Note: {note}" for note in result.notes]
    if result.abstained:
        lines.append(f"No recommendation: {result.reason}")
    for answer, drugs in result.grouped():
        if answer is not None and answer.status != "options":
            lines.append(answer.reason)
            continue
        if answer is not None:
            sure = f" (confidence {answer.confidence:.2f})" if answer.confidence is not None else ""
            lines.append(f"{answer.condition.name}:{sure}")
        for drug in drugs:
            cites = [e.citation or f"KG:{e.id}" for e in drug.evidence]
            lines.append(
                f"{drug.rank}. {drug.name} ({drug.drug_id}, {drug.backing()}): {drug.rationale} "
                f"[{', '.join(cites) or 'no citation'}]"
            )
    if result.abstained:
        return "\n".join(lines)
    how = "ranked by evidence (model answer unusable)" if result.fallback else "model"
    lines.append(f"Confidence {result.confidence or 0:.2f} ({how}).")
    return "\n".join(lines)


class KedrecTool(ServiceTool):
    """LangChain tool running the KEDRec graph on a patient.

    Args:
        graph: a compiled graph to run (default: the package's graph over ``services``,
            built on first use).
        services: the stores and model of that graph (default: the process-wide ones).
    """

    name: str = "kedrec_recommend"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = KedrecInput
    failure = "KEDRec could not answer"
    _graph: Any = PrivateAttr(default=None)

    def __init__(self, graph: Any = None, services: Services | None = None, **kwargs: Any) -> None:
        super().__init__(services, **kwargs)
        self._graph = graph

    @property
    def graph(self) -> Any:
        """The compiled graph it runs."""
        if self._graph is None:
            self._graph = (
                default_graph() if self._services is None else build_graph(services=self._services)
            )
        return self._graph

    def _run(self, top_k: int = 5, **patient: Any) -> tuple[str, dict[str, Any]]:
        fields = {"text": patient.pop("patient", ""), **patient}
        try:
            output = self.graph.invoke(graph_input(fields), context=make_context(top_k=top_k))
            result = result_of(output)
        except KedrecError as exc:
            log.warning("kedrec tool failed: %s", type(exc).__name__)
            return f"{self.failure}: {exc}", {"error": str(exc)}
        return summarize(result), result.model_dump()
