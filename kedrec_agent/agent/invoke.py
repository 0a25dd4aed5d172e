"""Running the graph on one patient: its input, its context, its answer.

Shared by the programmatic API (:mod:`kedrec_agent.api`) and the chatbot tool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import ValidationError

from kedrec_agent.agent.context import Context
from kedrec_agent.agent.result import AgentResult
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.model import PatientInput, validation_message

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


def result_of(output: Mapping[str, Any]) -> AgentResult:
    """The versioned answer in a graph run's output."""
    return AgentResult.model_validate(output["result"])
