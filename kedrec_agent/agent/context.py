"""Runtime settings of one graph run (LangGraph ``context_schema``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.runtime import Runtime


@dataclass(frozen=True)
class Context:
    """Per-run settings, read by nodes through ``Runtime[Context]``."""

    top_k: int = 5
    """Candidate drugs kept per condition."""

    paths_per_drug: int = 3
    """Drug -> gene -> disease paths kept per candidate."""

    literature: bool = True
    """Search the literature for each candidate (off: KG evidence only)."""

    literature_k: int = 2
    """Literature passages kept per candidate (drug, condition) pair."""

    ranker: bool = True
    """Order and score the candidates with the learned ranker (off: the graph's clinical
    order; the answer's confidence is then the model's own)."""

    max_choices: int = 3
    """Drugs the reasoning model may recommend."""

    min_confidence: float = 0.3
    """Below this, the answer is low confidence: see ``low_confidence``."""

    low_confidence: Literal["flag", "abstain"] = "flag"
    """``flag``: answer, marked as options to check; ``abstain``: no answer."""

    review: bool = False
    """Pause before the answer for a clinician's approve / edit / reject (needs a
    checkpointer; resume with ``Command(resume={"action": "approve"})``)."""

    exclusions: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(DrugBank id, disease id) pairs hidden from the knowledge graph (evaluation masking)."""


def context_of(runtime: Runtime[Any]) -> Context:
    """The run's context, or the defaults when the caller gave none."""
    context = runtime.context
    return context if isinstance(context, Context) else Context()
