"""The agent's answer: a versioned, JSON-serialisable recommendation (DESIGN.md, Output).

Every drug carries its rationale, the evidence it cites (KG triples, PMIDs / NCT ids with
titles) and its safety warnings; the answer says whether it abstained and why, which
model, adapter, prompt and data produced it, and how long each stage took.

Example:
    >>> output = graph.invoke({"patient": "..."})  # doctest: +SKIP
    >>> result = AgentResult.model_validate(output["result"])  # doctest: +SKIP
    >>> [r.name for r in result.recommendations]  # doctest: +SKIP
    ['Metformin']
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kedrec_agent.reasoning.schema import Evidence
from kedrec_agent.safety.checks import SafetyWarning

SCHEMA_VERSION = "kedrec.recommendation/1"
"""Changes when a field is removed or changes meaning (additions keep it)."""
DISCLAIMER = "Decision support for a clinician, not a prescription."


class LinkedEntity(BaseModel):
    """An entity of the patient as the agent understood it."""

    id: str
    name: str


class PatientView(BaseModel):
    """The linked patient (ids and names; never the note's text)."""

    conditions: list[LinkedEntity] = Field(default_factory=list)
    medications: list[LinkedEntity] = Field(default_factory=list)
    allergies: list[LinkedEntity] = Field(default_factory=list)
    age: int | None = None
    sex: str | None = None


class DrugRecommendation(BaseModel):
    """One recommended drug."""

    rank: int = Field(ge=1)
    drug_id: str = Field(description="DrugBank id")
    name: str
    score: float = Field(
        ge=0.0,
        le=1.0,
        description="strength of the evidence the tools found for this drug, relative to "
        "the best-supported candidate (1.0)",
    )
    rationale: str
    grounded: bool = Field(description="False when the model cited none of the evidence")
    evidence: list[Evidence] = Field(description="the items the rationale cites")
    warnings: list[SafetyWarning] = Field(default_factory=list)


class Review(BaseModel):
    """A clinician's decision on the answer (when review is on)."""

    action: Literal["approve", "edit", "reject"]
    drop: list[str] = Field(default_factory=list, description="DrugBank ids to remove (edit)")
    note: str = Field(default="", max_length=2_000)
    reviewer: str | None = Field(default=None, max_length=200)


class Versions(BaseModel):
    """What produced the answer."""

    package: str
    prompt: str
    model: str | None = Field(description="checkpoint folder, dtype and quantization")
    adapter: str | None = None
    data: str = Field(description="knowledge-graph build stamp (or SPARQL endpoint)")


class AgentResult(BaseModel):
    """The whole answer for one patient."""

    schema_version: Literal["kedrec.recommendation/1"] = "kedrec.recommendation/1"
    disclaimer: str = DISCLAIMER
    abstained: bool
    reason: str = Field(default="", description="why the agent abstained")
    recommendations: list[DrugRecommendation] = Field(default_factory=list)
    warnings: list[SafetyWarning] = Field(
        default_factory=list, description="every safety finding, withheld drugs included"
    )
    notes: list[str] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    low_confidence: bool = False
    fallback: bool = Field(default=False, description="ranked by evidence, not the model")
    patient: PatientView = Field(default_factory=PatientView)
    review: Review | None = None
    versions: Versions
    timings_ms: dict[str, float] = Field(default_factory=dict)
