"""Assemble the versioned answer (:class:`~kedrec_agent.agent.result.AgentResult`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from kedrec_agent import __version__
from kedrec_agent.agent.result import (
    AgentResult,
    DrugRecommendation,
    LinkedEntity,
    PatientView,
    Review,
    Versions,
)
from kedrec_agent.agent.state import State
from kedrec_agent.config import get_settings
from kedrec_agent.reasoning.prompts import PROMPT_VERSION
from kedrec_agent.reasoning.ranking import support
from kedrec_agent.reasoning.schema import Evidence, Recommendation
from kedrec_agent.safety.checks import SafetyWarning


@cache
def data_version() -> str:
    """The KG the agent reads: a hash of its build stamp, or the remote endpoint."""
    from kedrec_agent.kg.build import read_stamp

    settings = get_settings()
    if settings.sparql_endpoint:
        return f"sparql:{settings.sparql_endpoint}"
    stamp = read_stamp(settings)
    if stamp is None:
        return "unbuilt"
    digest = hashlib.sha256(json.dumps(stamp.inputs, sort_keys=True).encode()).hexdigest()
    return f"kg:{digest[:12]}"


def _scores(evidence: list[Evidence]) -> dict[str, float]:
    """Each drug's evidence support (the fallback ranking's), scaled so the best is 1.0."""
    totals = support(evidence)
    best = max(totals.values(), default=0.0)
    return {d: round(t / best, 3) for d, t in totals.items()} if best > 0 else {}


def build_result(
    state: State,
    name_of: Callable[[str], str | None],
    review: Review | None = None,
    data: str = "unknown",
) -> AgentResult:
    """The answer for ``state`` (after any stage, abstained or not).

    Args:
        state: the graph state at the end of the run.
        name_of: display name of an entity id.
        review: the reviewer's decision, if any.
        data: the data version (see :func:`data_version`).
    """
    evidence = [Evidence.model_validate(e) for e in state.reasoning_evidence]
    by_id = {e.id: e for e in evidence}
    scores = _scores(evidence)
    warnings = [SafetyWarning.model_validate(w) for w in state.warnings]
    rec = Recommendation.model_validate(state.recommendation) if state.recommendation else None
    drugs = [
        DrugRecommendation(
            rank=rank,
            drug_id=choice.drug_id,
            name=choice.drug_name,
            score=scores.get(choice.drug_id, 0.0),
            rationale=choice.rationale,
            grounded=choice.grounded,
            evidence=[by_id[i] for i in choice.evidence_ids if i in by_id],
            warnings=[w for w in warnings if choice.drug_id in (w.drug_id, w.other_id)],
        )
        for rank, choice in enumerate(rec.choices if rec and not state.abstained else [], 1)
    ]
    abstained, reason = state.abstained, state.reason
    if not abstained and not drugs:
        abstained = True
        reason = reason or "The evidence does not support recommending a drug."
    model: Mapping[str, Any] = state.model

    def view(ids: list[str]) -> list[LinkedEntity]:
        return [LinkedEntity(id=i, name=name_of(i) or i) for i in ids]

    return AgentResult(
        abstained=abstained,
        reason=reason,
        recommendations=drugs,
        warnings=warnings,
        notes=list(state.notes),
        confidence=rec.confidence if rec else None,
        low_confidence=state.low_confidence,
        fallback=bool(rec and rec.fallback),
        patient=PatientView(
            conditions=view(state.conditions),
            medications=view(state.medications),
            allergies=view(state.allergies),
            age=state.age,
            sex=state.sex,
        ),
        review=review,
        versions=Versions(
            package=__version__,
            prompt=PROMPT_VERSION,
            model=model.get("model"),
            adapter=model.get("adapter"),
            data=data,
        ),
        timings_ms=dict(state.timings),
    )
