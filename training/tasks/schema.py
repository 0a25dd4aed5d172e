"""What the training pipeline reads and writes: tasks and teacher traces (pydantic, JSONL).

A :class:`Task` is one expRxRec-style question: a disease (or patient), one true
indication among hard negatives. A :class:`Trace` is a task as the agent's tools saw it
(visible evidence, gold edges masked) with the teacher's answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kedrec_agent.reasoning.schema import ReasoningTask

TASK_SCHEMA = "kedrec.task/1"
TRACE_SCHEMA = "kedrec.trace/1"


class TaskCandidate(BaseModel):
    """One drug of a task."""

    id: str = Field(description="DrugBank id")
    name: str
    negative: Literal["positive", "curated", "hard", "random"] = Field(
        description="the true indication, a PharmacotherapyDB NOT pair, a drug near the "
        "positive in the KG embedding, or a random drug (when too few hard ones exist)"
    )


class Task(BaseModel):
    """One selection question."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["kedrec.task/1"] = "kedrec.task/1"
    task_id: str = Field(description="stable: disease key, positive drug, seed")
    split: str = Field(description="the split of the disease list it was built from")
    disease: str = Field(description="canonical disease key (MESH:… preferred, else DOID:…)")
    disease_name: str
    positive: str = Field(description="DrugBank id of the true indication")
    source: str = Field(
        description="where the indication comes from: drugmechdb, "
        "pharmacotherapydb:DM / :SYM, drugbank, hetionet"
    )
    candidates: list[TaskCandidate] = Field(min_length=2, description="shuffled (seeded)")
    rationale: str | None = Field(
        default=None, description="DrugMechDB rationale_text of (positive, disease), if any"
    )
    mechanism: list[str] = Field(
        default_factory=list, description="DrugMechDB path as 'head relation tail' steps"
    )
    exclusions: list[tuple[str, str]] = Field(
        default_factory=list,
        description="(DrugBank id, disease id) pairs to mask: every known indication edge "
        "between any candidate and the disease or its DOID/MeSH equivalents",
    )


class Trace(BaseModel):
    """A task, what the agent's tools showed, and the teacher's answer."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["kedrec.trace/1"] = "kedrec.trace/1"
    task_id: str
    positive: str
    reasoning_task: ReasoningTask = Field(description="the visible inputs of the prompt")
    completion: str = Field(
        description="the teacher's answer as the student must write it: the text that "
        "follows reasoning.prompts.ANSWER_PREFIX"
    )
    evidence_ids: list[str] = Field(description="evidence ids the answer cites")
    teacher: str = Field(description="teacher name and version")
    privileged: list[str] = Field(
        default_factory=list,
        description="what the teacher knew and the student was not shown (drug: which "
        "candidate is right); the rationale states only shown items",
    )
    prompt_version: str
    provenance: dict[str, str] = Field(
        default_factory=dict, description="data version, code version, task file hash"
    )
