"""Graph nodes: plain functions of (state, runtime), each testable without the graph."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from langgraph.runtime import Runtime

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.evidence import reasoning_task
from kedrec_agent.agent.state import State
from kedrec_agent.errors import KedrecError
from kedrec_agent.kg.evidence import KGEvidence, gather_evidence
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker
from kedrec_agent.literature.search import Hit, LiteratureSearch
from kedrec_agent.reasoning.answer import fallback
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import load_model
from kedrec_agent.reasoning.schema import PatientSummary, Recommendation
from kedrec_agent.safety.checks import check_recommendation
from kedrec_agent.safety.classes import DrugClasses

log = logging.getLogger(__name__)


@cache
def knowledge_graph() -> KnowledgeGraph:
    """The process-wide graph, opened once (a failed open is retried on the next call)."""
    return KnowledgeGraph.from_settings()


def link(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Extract conditions, medications and allergies from the patient text."""
    try:
        mentions = get_linker().extract(state.patient)
    except KedrecError as exc:
        return {"abstained": True, "reason": str(exc)}
    conditions = [m.entity.canonical for m in mentions.conditions if not m.negated]
    if not conditions:
        return {
            "abstained": True,
            "reason": "No condition could be recognised in the patient description; "
            "please name the diagnosis (e.g. 'type 2 diabetes').",
        }
    return {
        "age": mentions.age,
        "sex": mentions.sex,
        "conditions": list(dict.fromkeys(conditions)),
        "medications": list(
            dict.fromkeys(m.entity.id for m in mentions.medications if not m.negated)
        ),
        "allergies": list(dict.fromkeys(m.entity.id for m in mentions.allergies if not m.negated)),
    }


def kg_evidence(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Candidate drugs, mechanism paths and interactions from the knowledge graph."""
    context = runtime.context or Context()
    try:
        kg = knowledge_graph()
        if context.exclusions:
            kg = kg.with_exclusions(context.exclusions)
        evidence = gather_evidence(
            kg,
            state.conditions,
            state.medications,
            top_k=context.top_k,
            paths_per_drug=context.paths_per_drug,
        )
    except KedrecError as exc:
        return {"abstained": True, "reason": f"Knowledge graph unavailable: {exc}"}
    if not evidence.candidates:
        return {
            "abstained": True,
            "reason": "The knowledge graph has no candidate drug for the recognised conditions.",
            "evidence": evidence.model_dump(),
        }
    return {"evidence": evidence.model_dump(), "abstained": False, "reason": ""}


@cache
def literature_search() -> LiteratureSearch:
    """The process-wide literature search, opened once (a failed open is retried)."""
    return LiteratureSearch.from_settings()


def literature_evidence(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Passages about each candidate and its condition; without them if the store is down."""
    context = runtime.context or Context()
    evidence = KGEvidence.model_validate(state.evidence)
    found: dict[str, Any] = {}
    try:
        search = literature_search()
        for cand in evidence.candidates:
            drug = cand.drug.local_id
            if cand.already_taking or drug in found:
                continue
            hits = search.search_pair(drug, cand.condition, k=context.literature_k)
            found[drug] = [h.model_dump() for h in hits]
    except KedrecError as exc:
        log.warning("literature unavailable: %s", type(exc).__name__)
        return {"literature": found, "notes": [f"Literature unavailable: {exc}"]}
    return {"literature": found}


def _labels(ids: list[str]) -> list[str]:
    linker = get_linker()
    return [f"{linker.name_of(i) or i} ({i})" for i in ids]


def reason(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """The reasoning model's checked choice among the candidates, citing the evidence."""
    context = runtime.context or Context()
    evidence = KGEvidence.model_validate(state.evidence)
    if all(c.already_taking for c in evidence.candidates):
        return {
            "abstained": True,
            "reason": "The patient already takes every candidate drug the graph proposes.",
        }
    linker = get_linker()
    patient = PatientSummary(
        conditions=_labels(state.conditions),
        medications=_labels(state.medications),
        allergies=_labels(state.allergies),
        age=state.age,
        sex=state.sex,
    )
    hits = {d: [Hit.model_validate(h) for h in hs] for d, hs in state.literature.items()}
    names = {c: linker.name_of(c) or c for c in state.conditions}
    task = reasoning_task(patient, evidence, hits, names, max_choices=context.max_choices)
    try:
        recommendation = Reasoner(load_model()).recommend(task)
    except KedrecError as exc:  # model missing or unloadable: the evidence ranking answers
        recommendation = fallback(task, f"the reasoning model is unavailable: {exc}")
    update: dict[str, Any] = {
        "recommendation": recommendation.model_dump(),
        "reasoning_evidence": [e.model_dump() for e in task.evidence],
    }
    if recommendation.choices and recommendation.confidence < context.min_confidence:
        update["notes"] = [
            f"Low confidence ({recommendation.confidence:.2f} < {context.min_confidence:.2f}): "
            "treat these as options to check against the evidence, not as a recommendation.",
        ]
    return update


def safety(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Withhold drugs the patient is allergic to or already takes; warn of interactions."""
    recommendation = Recommendation.model_validate(state.recommendation)
    evidence = KGEvidence.model_validate(state.evidence)
    try:
        classes = DrugClasses.from_settings()
    except KedrecError as exc:  # without the MeSH tree only same-drug allergies are caught
        log.warning("MeSH classes unavailable: %s", type(exc).__name__)
        classes = DrugClasses({}, {}, {})
    checked, warnings = check_recommendation(
        recommendation,
        state.medications,
        state.allergies,
        evidence.interactions,
        get_linker().name_of,
        classes,
    )
    update: dict[str, Any] = {
        "recommendation": checked.model_dump(),
        "warnings": [w.model_dump() for w in warnings],
    }
    if recommendation.choices and not checked.choices:
        update["notes"] = ["Every recommended drug was withheld for safety."]
    return update
