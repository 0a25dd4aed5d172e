"""What the reasoning node reads and writes (pydantic, so tools and graphs can validate it).

Example:
    >>> task = ReasoningTask(
    ...     patient=PatientSummary(conditions=["Chronic myeloid leukemia (MESH:D015464)"]),
    ...     candidates=[Candidate(id="DB00619", name="Imatinib")],
    ...     evidence=[Evidence(id="E1", kind="kg", text="Imatinib treats CML",
    ...                        drugs=["DB00619"])],
    ... )
    >>> task.candidate_ids()
    ['DB00619']
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PatientSummary(BaseModel):
    """The linked patient, as labels ``Name (ID)``; never raw note text."""

    conditions: list[str] = Field(default_factory=list)
    medications: list[str] = Field(default_factory=list)
    allergies: list[str] = Field(default_factory=list)
    age: int | None = None
    sex: str | None = None


class Candidate(BaseModel):
    """A drug the model may choose."""

    id: str = Field(description="DrugBank id, e.g. DB00619")
    name: str


class Evidence(BaseModel):
    """One item of evidence the model may cite by its ``id``."""

    id: str = Field(description="short id the answer cites, e.g. E3")
    kind: Literal["kg", "literature"]
    text: str = Field(description="a KG fact or path, or a passage with its citation")
    drugs: list[str] = Field(default_factory=list, description="candidate ids it concerns")
    citation: str | None = Field(default=None, description="PMID:… / NCT… of a passage")
    priority: float = Field(default=0.0, description="higher is kept first in the prompt")


class ReasoningTask(BaseModel):
    """Input of the reasoning node."""

    patient: PatientSummary
    candidates: list[Candidate] = Field(min_length=1)
    evidence: list[Evidence] = Field(default_factory=list)
    max_choices: int = Field(default=3, ge=1, le=10)

    def candidate_ids(self) -> list[str]:
        """Candidate ids in the given order."""
        return [c.id for c in self.candidates]


class ModelChoice(BaseModel):
    """One choice as the model writes it (the JSON it is asked for)."""

    drug: str
    rationale: str = ""
    evidence: list[str] = Field(default_factory=list)


class ModelAnswer(BaseModel):
    """The model's JSON answer before its ids are checked."""

    choices: list[ModelChoice]
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class Choice(BaseModel):
    """A checked choice: a real candidate, citing only given evidence."""

    drug_id: str
    drug_name: str
    rationale: str
    evidence_ids: list[str]
    grounded: bool = Field(
        default=True,
        description="False when the model cited no given evidence: its rationale is then "
        "replaced by a pointer to the evidence about the drug",
    )


class Recommendation(BaseModel):
    """Output of the reasoning node. Decision support for clinicians, not a prescription."""

    choices: list[Choice]
    confidence: float = Field(ge=0.0, le=1.0)
    fallback: bool = Field(description="True when the model's answer was unusable")
    removed_ids: int = Field(default=0, description="unknown ids dropped from the answer")
    prompt_version: str
    problem: str | None = Field(default=None, description="why the fallback was used")
