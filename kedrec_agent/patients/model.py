"""The patient a caller describes: free text and/or structured fields (names or codes).

Structured values are kept as given (names, or codes such as ``MESH:D003924``,
``DOID:9352``, ``ICD9:250.00``, ``DB00619``); the graph's link node resolves them.

Example:
    >>> PatientInput(conditions=["type 2 diabetes"], medications=["warfarin"], age=68).age
    68
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

MAX_TEXT_CHARS = 20_000
MAX_ITEMS = 100

Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PatientInput(BaseModel):
    """One patient: a free-text description, structured fields, or both.

    Attributes:
        text: free text, e.g. '68-year-old man with type 2 diabetes on warfarin'.
        conditions: diagnoses, as names or MeSH / DOID / ICD-9 codes.
        medications: current medications, as names or DrugBank ids.
        allergies: drugs or drug classes (names, DrugBank or MeSH ids).
        age: years (0-130).
        sex: ``"female"`` or ``"male"``.
        pregnant: ``True``: pregnant or planning a pregnancy (every pregnancy caution
            applies); ``False``: stated not pregnant; unset: not stated (a woman aged 12-50
            still gets the cautions of drugs that need a pregnancy prevention programme).
        source: where the record came from (``"fhir"``, ``"mimic:HADM_ID"``,
            ``"synthea:ID"``…), for provenance; never patient text.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    conditions: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    medications: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    allergies: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["female", "male"] | None = None
    pregnant: bool | None = None
    source: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _something_to_link(self) -> PatientInput:
        if not self.text and not self.conditions:
            raise ValueError("describe the patient: give 'text' or at least one condition")
        return self


def validation_message(exc: ValidationError, what: str = "The patient record") -> str:
    """A readable summary of a pydantic error that never echoes the input's values.

    An unknown field is named only when its name looks like one (``nickname``, ``ssn``): a
    key such as ``"Mr Smith"`` is the caller's data, not a field name.
    """
    problems = "; ".join(
        f"{_where(e['loc'], e['type'])}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )
    return f"{what} is invalid: {problems}."


_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _where(loc: tuple[int | str, ...], kind: str) -> str:
    if kind == "extra_forbidden" and loc and not _FIELD_NAME.fullmatch(str(loc[-1])):
        loc = (*loc[:-1], "an unknown field (its name not shown)")
    return ".".join(str(p) for p in loc) or "record"
