"""Programmatic use: :func:`recommend`, :func:`arecommend`, :func:`recommend_batch`.

Decision support for clinicians, not a prescription.

Example:
    >>> from kedrec_agent import recommend  # doctest: +SKIP
    >>> result = recommend("68-year-old man with type 2 diabetes on warfarin")  # doctest: +SKIP
    >>> [r.name for r in result.recommendations]  # doctest: +SKIP
    ['Gliclazide']
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import ValidationError

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.result import AgentResult, Versions
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.model import PatientInput, validation_message

log = logging.getLogger(__name__)

Patient = str | PatientInput | Mapping[str, Any]
"""Free text, a :class:`PatientInput`, or a mapping of its fields (structured JSON)."""


@cache
def default_graph() -> Any:
    """The package's compiled graph (built once per process, no checkpointer)."""
    from kedrec_agent.agent.graph import build_graph

    return build_graph()


def graph_input(patient: Patient) -> dict[str, Any]:
    """The graph input for ``patient``.

    Raises:
        InvalidInputError: the patient is empty or its fields are invalid (the message
            names the fields, never their values).
    """
    try:
        if isinstance(patient, str):
            checked = PatientInput(text=patient)
        elif isinstance(patient, PatientInput):
            checked = patient
        elif isinstance(patient, Mapping):
            checked = PatientInput.model_validate(dict(patient))
        else:
            raise InvalidInputError(
                f"A patient is text, a PatientInput or a mapping; got {type(patient).__name__}."
            )
    except ValidationError as exc:
        raise InvalidInputError(validation_message(exc)) from None
    record = checked.model_dump(exclude={"text", "source"}, exclude_none=True)
    return {"patient": checked.text, "record": {k: v for k, v in record.items() if v}}


def make_context(**settings: Any) -> Context:
    """A :class:`Context` from keyword settings.

    Raises:
        InvalidInputError: an unknown setting (the message lists the known ones).
    """
    known = {f.name for f in dataclasses.fields(Context)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidInputError(
            f"Unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
        )
    if settings.get("review"):
        raise InvalidInputError(
            "review needs a checkpointer: build_graph(checkpointer=...) and invoke it with a "
            "thread id (see the README, Clinician review)."
        )
    if "exclusions" in settings:
        settings["exclusions"] = tuple(tuple(pair) for pair in settings["exclusions"])
    return Context(**settings)


def _result(output: Mapping[str, Any]) -> AgentResult:
    return AgentResult.model_validate(output["result"])


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
    return _result((graph or default_graph()).invoke(graph_input(patient), context=context))


async def arecommend(patient: Patient, *, graph: Any = None, **settings: Any) -> AgentResult:
    """Async :func:`recommend` (the stages run in LangGraph's executor)."""
    context = make_context(**settings)
    output = await (graph or default_graph()).ainvoke(graph_input(patient), context=context)
    return _result(output)


def _failed(reason: str) -> AgentResult:
    from kedrec_agent import __version__
    from kedrec_agent.reasoning.prompts import PROMPT_VERSION

    versions = Versions(package=__version__, prompt=PROMPT_VERSION, model=None, data="unknown")
    return AgentResult(abstained=True, reason=reason, versions=versions)


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
            results[i] = _result(output)
    return [r for r in results if r is not None]
