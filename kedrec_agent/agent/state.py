"""Graph state: the input a caller gives, the full working state, the output returned."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any


@dataclass
class InputState:
    """What a caller sends: a free-text patient description."""

    patient: str = ""
    """Free text, e.g. '68-year-old man with type 2 diabetes on warfarin'."""


@dataclass
class OutputState:
    """What the graph returns."""

    conditions: list[str] = field(default_factory=list)
    """Canonical disease ids linked from the patient text."""

    medications: list[str] = field(default_factory=list)
    """DrugBank ids of current medications."""

    allergies: list[str] = field(default_factory=list)
    """Ids of allergy substances (MeSH) or drugs (DrugBank)."""

    evidence: dict[str, Any] = field(default_factory=dict)
    """Knowledge-graph evidence (candidates, paths, interactions) as JSON."""

    literature: dict[str, Any] = field(default_factory=dict)
    """Literature hits per candidate DrugBank id (citations, titles, snippets) as JSON."""

    recommendation: dict[str, Any] = field(default_factory=dict)
    """The reasoning node's checked answer (see ``reasoning.schema.Recommendation``)."""

    reasoning_evidence: list[dict[str, Any]] = field(default_factory=list)
    """The numbered evidence items (``E1``…) the recommendation cites."""

    warnings: list[dict[str, Any]] = field(default_factory=list)
    """Safety findings (allergy and duplicate-therapy vetoes, interactions), never dropped."""

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
