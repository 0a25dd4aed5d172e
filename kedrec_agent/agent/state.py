"""Graph state: the input a caller gives, the full working state, the output returned."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any


def merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Reducer: later keys win (each node adds its own timing)."""
    return {**left, **right}


@dataclass
class InputState:
    """What a caller sends: free text, a structured record, or both."""

    patient: str = ""
    """Free text, e.g. '68-year-old man with type 2 diabetes on warfarin'."""

    record: dict[str, Any] = field(default_factory=dict)
    """Structured fields (``kedrec_agent.patients.PatientInput`` without ``text``):
    conditions, medications, allergies (names or codes), age, sex, pregnant."""


@dataclass
class OutputState:
    """What the graph returns.

    ``result`` is the versioned answer; the rest is the working evidence, kept for
    debugging (LangGraph Studio) and evaluation.
    """

    result: dict[str, Any] = field(default_factory=dict)
    """The answer (see ``kedrec_agent.agent.result.AgentResult``)."""

    conditions: list[str] = field(default_factory=list)
    """Canonical disease ids linked from the patient."""

    condition_names: dict[str, str] = field(default_factory=dict)
    """Each condition's name as linked (``depression``: *Depressive Disorder*, though its
    canonical key is MeSH's *Adjustment Disorders*, an equivalent by cross reference)."""

    medications: list[str] = field(default_factory=list)
    """DrugBank ids of current medications."""

    allergies: list[str] = field(default_factory=list)
    """Ids of allergy substances (MeSH) or drugs (DrugBank)."""

    general: list[str] = field(default_factory=list)
    """Linked conditions that are only a category (MeSH ``C04`` Neoplasms): no drug is
    proposed for them."""

    evidence: dict[str, Any] = field(default_factory=dict)
    """Knowledge-graph evidence (candidates, paths, interactions) as JSON."""

    usable: dict[str, Any] = field(default_factory=dict)
    """The candidates the model may choose (``evidence`` without the drugs the patient takes
    or is allergic to, nor the candidates of a condition a current medication treats)."""

    literature: dict[str, Any] = field(default_factory=dict)
    """Literature hits per candidate DrugBank id (citations, titles, snippets) as JSON."""

    probabilities: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per condition id, the learned ranker's probability of each of its candidates."""

    recommendation: dict[str, Any] = field(default_factory=dict)
    """The answer after the safety check and any review (see
    ``reasoning.schema.Recommendation``)."""

    model_recommendation: dict[str, Any] = field(default_factory=dict)
    """The reasoning node's answer (or its evidence fallback) before safety and review."""

    reasoning_evidence: list[dict[str, Any]] = field(default_factory=list)
    """The numbered evidence items (``E1``…) the recommendation cites."""

    warnings: Annotated[list[dict[str, Any]], operator.add] = field(default_factory=list)
    """Safety findings (vetoes, interactions, unchecked medications), never dropped."""

    notes: Annotated[list[str], operator.add] = field(default_factory=list)
    """What the reader should know about this answer (e.g. a store that was unavailable);
    each node returns only its own notes, which are appended."""

    abstained: bool = False
    """True when the graph could not answer; ``reason`` says why."""

    reason: str = ""


@dataclass
class State(InputState, OutputState):
    """Working state passed between nodes."""

    age: int | None = None
    sex: str | None = None
    pregnant: bool | None = None
    """Pregnant or planning a pregnancy (stated, or a pregnancy complication is among the
    conditions); ``False``: stated not pregnant; ``None``: not stated."""
    timings: Annotated[dict[str, float], merge] = field(default_factory=dict)
    """Milliseconds per stage."""

    low_confidence: bool = False
    """The model's confidence is below ``Context.min_confidence``."""

    model: dict[str, Any] = field(default_factory=dict)
    """Which model answered (path, dtype, quantization, adapter), set by the reason node."""

    review: dict[str, Any] = field(default_factory=dict)
    """The reviewer's decision, when review is on."""
