"""Programmatic use: :func:`recommend`, :func:`arecommend`, :func:`recommend_batch`.

Decision support for clinicians, not a prescription.

Example:
    >>> from kedrec_agent import recommend  # doctest: +SKIP
    >>> result = recommend("68-year-old man with type 2 diabetes on warfarin")  # doctest: +SKIP
    >>> [r.name for r in result.recommendations]  # doctest: +SKIP
    ['Gliclazide']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kedrec_agent.agent.invoke import Patient, default_graph, graph_input, make_context, result_of
from kedrec_agent.agent.result import AgentResult, Versions
from kedrec_agent.errors import InvalidInputError

log = logging.getLogger(__name__)

__all__ = [
    "Patient",
    "arecommend",
    "default_graph",
    "graph_input",
    "make_context",
    "recommend",
    "recommend_batch",
]


def recommend(patient: Patient, *, graph: Any = None, **settings: Any) -> AgentResult:
    """Recommend drugs for one patient.

    Args:
        patient: free text, a :class:`~kedrec_agent.patients.PatientInput`, or a mapping of
            its fields (conditions, medications, allergies as names or codes; age; sex).
        graph: a compiled graph (default: the package's, built on first use).
        **settings: :class:`~kedrec_agent.agent.context.Context` fields, e.g. ``top_k=3``.

    Returns:
        The versioned answer; ``abstained`` with a ``reason`` when there is none.

    Raises:
        InvalidInputError: invalid patient fields or an unknown setting.
    """
    context = make_context(**settings)
    return result_of((graph or default_graph()).invoke(graph_input(patient), context=context))


async def arecommend(patient: Patient, *, graph: Any = None, **settings: Any) -> AgentResult:
    """Async :func:`recommend` (the stages run in LangGraph's executor)."""
    context = make_context(**settings)
    output = await (graph or default_graph()).ainvoke(graph_input(patient), context=context)
    return result_of(output)


def _failed(reason: str) -> AgentResult:
    return AgentResult(abstained=True, reason=reason, versions=Versions.current())


def recommend_batch(
    patients: Sequence[Patient],
    *,
    max_concurrency: int = 4,
    graph: Any = None,
    **settings: Any,
) -> list[AgentResult]:
    """Recommend for many patients, at most ``max_concurrency`` at a time, in input order.

    One patient's invalid input or failure does not stop the others: its result abstains
    with the reason.
    """
    context = make_context(**settings)
    graph = graph or default_graph()
    inputs: list[dict[str, Any] | None] = []
    results: list[AgentResult | None] = []
    for patient in patients:
        try:
            inputs.append(graph_input(patient))
            results.append(None)
        except InvalidInputError as exc:
            inputs.append(None)
            results.append(_failed(str(exc)))
    todo = [i for i, item in enumerate(inputs) if item is not None]
    outputs = graph.batch(
        [inputs[i] for i in todo],
        config={"max_concurrency": max_concurrency},
        return_exceptions=True,
        context=context,
    )
    for i, output in zip(todo, outputs, strict=True):
        if isinstance(output, Exception):
            log.warning("batch item %d failed: %s", i, type(output).__name__)
            results[i] = _failed(f"The agent failed on this patient ({type(output).__name__}).")
        else:
            results[i] = result_of(output)
    return [r for r in results if r is not None]
