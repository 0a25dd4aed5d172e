"""Graph nodes: plain functions of (state, runtime), each testable without the graph."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.state import State
from kedrec_agent.errors import KedrecError
from kedrec_agent.kg.evidence import gather_evidence
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker

_KG: KnowledgeGraph | None = None


def knowledge_graph() -> KnowledgeGraph:
    """The process-wide graph, opened once."""
    global _KG
    if _KG is None:
        _KG = KnowledgeGraph.from_settings()
    return _KG


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
