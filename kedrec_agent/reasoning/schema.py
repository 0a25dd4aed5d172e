"""What the reasoning node reads and writes (pydantic, so tools and graphs can validate it).

Example:
    >>> task = ReasoningTask(
    ...     patient=PatientView(conditions=[EntityRef(id="MESH:D015464", name="CML")]),
    ...     candidates=[Candidate(id="DB00619", name="Imatinib")],
    ...     evidence=[Evidence(id="E1", kind="kg", text="Imatinib treats CML",
    ...                        drugs=["DB00619"])],
    ... )
    >>> task.candidate_ids()
    ['DB00619']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class EntityRef(BaseModel):
    """An entity of the patient as the agent understood it: its id and display name."""

    id: str
    name: str

    @property
    def label(self) -> str:
        """``Name (ID)``, as prompts show it."""
        return f"{self.name} ({self.id})"


def _ref(value: Any) -> Any:
    """Accept a ``Name (ID)`` label (the form of caches and traces before EntityRef)."""
    if isinstance(value, str):
        name, sep, rest = value.rpartition(" (")
        if sep and rest.endswith(")"):
            return {"id": rest[:-1], "name": name}
        return {"id": value, "name": value}
    return value


class PatientView(BaseModel):
    """The linked patient: ids and names, never the note's text."""

    conditions: list[EntityRef] = Field(default_factory=list)
    medications: list[EntityRef] = Field(default_factory=list)
    allergies: list[EntityRef] = Field(default_factory=list)
    age: int | None = None
    sex: str | None = None
    pregnant: bool | None = Field(
        default=None, description="pregnant or planning a pregnancy; false: stated not"
    )

    @field_validator("conditions", "medications", "allergies", mode="before")
    @classmethod
    def _labels(cls, values: Any) -> Any:
        return [_ref(v) for v in values] if isinstance(values, list) else values


class Candidate(BaseModel):
    """A drug the model may choose."""

    id: str = Field(description="DrugBank id, e.g. DB00619")
    name: str
    interaction: Literal["major", "moderate", "minor", "unknown"] | None = Field(
        default=None,
        description="its most severe known interaction with a current medication (or a drug "
        "chosen for another of the patient's conditions), if any",
    )
    classes: list[str] = Field(
        default_factory=list,
        description="its pharmacologic classes (DrugCentral EPC / MoA, ATC level 4), to find "
        "a same-class alternative without its interaction",
    )
    condition: str | None = Field(default=None, description="the condition it is proposed for")
    rank: int | None = Field(
        default=None, description="its place in the clinical candidate order of its condition"
    )
    caution: str | None = Field(
        default=None,
        description="why a similarly supported alternative should go first (a cross-reactive "
        "allergy class), if any",
    )
    caution_strength: Literal["strong", "weak"] = Field(
        default="strong",
        description="how strongly its caution argues for an alternative: strong when a "
        "guideline, a label or a class rule says so or the side effect has a reported "
        "frequency; weak when the side effect is only listed (SIDER, no frequency)",
    )
    indicated: bool = Field(
        default=False, description="it has an indication edge for its condition in the graph"
    )
    probability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the learned ranker's calibrated probability that it is the right choice "
        "(see kedrec_agent.agent.scoring)",
    )


Topic = Literal["indication", "mechanism", "kinetics", "class", "related", "literature"]
"""What an evidence item says: the drug is listed for the condition (or another of the
patient's), how it acts (drug -> target -> disease), how it is handled (an enzyme or a
transporter of the drug linked to the disease: not how it works), its pharmacologic class,
its indications for related diseases, or a passage about the pair."""


class Evidence(BaseModel):
    """One item of evidence the model may cite by its ``id``."""

    id: str = Field(description="short id the answer cites, e.g. E3")
    kind: Literal["kg", "literature"]
    text: str = Field(description="a KG fact or path, or a passage with its citation")
    drugs: list[str] = Field(default_factory=list, description="candidate ids it concerns")
    citation: str | None = Field(default=None, description="PMID:… / NCT… of a passage")
    priority: float = Field(default=0.0, description="higher is kept first in the prompt")
    topic: Topic | None = Field(default=None, description="what the item says about the drug")


class ReasoningTask(BaseModel):
    """Input of the reasoning node."""

    patient: PatientView
    candidates: list[Candidate] = Field(min_length=1)
    evidence: list[Evidence] = Field(default_factory=list)
    max_choices: int = Field(default=3, ge=1, le=10)

    def candidate_ids(self) -> list[str]:
        """Candidate ids in the given order."""
        return [c.id for c in self.candidates]

    def for_condition(self, condition: str) -> tuple[ReasoningTask, dict[str, str]]:
        """The task restricted to one condition's candidates, its evidence renumbered from E1.

        The patient's conditions are listed with this one first: it is the one the answer
        is about (the model otherwise tends to write about the first one listed).

        Returns:
            The sub-task, and its evidence ids mapped back to this task's.
        """
        candidates = [c for c in self.candidates if c.condition == condition]
        ids = {c.id for c in candidates}
        kept = [e for e in self.evidence if ids & set(e.drugs)]
        back = {f"E{n}": e.id for n, e in enumerate(kept, start=1)}
        evidence = [e.model_copy(update={"id": f"E{n}"}) for n, e in enumerate(kept, start=1)]
        conditions = sorted(self.patient.conditions, key=lambda c: c.id != condition)
        patient = self.patient.model_copy(update={"conditions": conditions})
        sub = self.model_copy(
            update={"patient": patient, "candidates": candidates, "evidence": evidence}
        )
        return sub, back


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
    templated: bool = Field(
        default=False,
        description="True when the model's rationale failed the sanity gate and was replaced "
        "by a summary templated from the cited evidence",
    )
    alternative: bool = Field(
        default=False,
        description="True for a similarly supported alternative added after the model's "
        "choices (its rationale is a summary of its evidence, not the model's text)",
    )
    condition: str | None = Field(default=None, description="the condition it is chosen for")


class Recommendation(BaseModel):
    """Output of the reasoning node. Decision support for clinicians, not a prescription."""

    choices: list[Choice]
    confidence: float = Field(ge=0.0, le=1.0)
    fallback: bool = Field(description="True when the model's answer was unusable")
    removed_ids: int = Field(default=0, description="unknown ids dropped from the answer")
    prompt_version: str
    problem: str | None = Field(default=None, description="why the fallback was used")
