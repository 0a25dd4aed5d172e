"""The agent's answer: a versioned, JSON-serialisable recommendation, and how it is built.

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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from kedrec_agent.kg.evidence import KGEvidence
from kedrec_agent.reasoning.output import UNGROUNDED_CONFIDENCE
from kedrec_agent.reasoning.prompts import PROMPT_VERSION
from kedrec_agent.reasoning.ranking import support
from kedrec_agent.reasoning.schema import EntityRef, Evidence, PatientView, Recommendation
from kedrec_agent.safety.checks import SafetyWarning
from kedrec_agent.version import __version__

if TYPE_CHECKING:
    from kedrec_agent.agent.state import State

SchemaVersion = Literal["kedrec.recommendation/2"]
SCHEMA_VERSION: SchemaVersion = "kedrec.recommendation/2"
"""Changes when a field is removed or changes meaning (additions keep it). 2: answers are
problem-oriented (``conditions``; each drug says which condition it is for)."""
DISCLAIMER = "Decision support for a clinician, not a prescription."


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
    probability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the learned ranker's calibrated probability that it is the right choice "
        "among its condition's candidates (None without the ranker)",
    )
    indicated_by: list[str] = Field(
        default_factory=list,
        description="the sources that list it for its condition (treats or palliates: "
        '"DrugBank", "Hetionet"); empty: proposed from related indications, mechanism '
        "or literature",
    )
    rationale: str
    grounded: bool = Field(description="False when the model cited none of the evidence")
    templated: bool = Field(
        default=False, description="the rationale is an evidence summary, not the model's text"
    )
    alternative: bool = Field(
        default=False,
        description="a similarly supported, safe alternative to the condition's chosen drug, "
        "added after it (its rationale is a summary of its evidence)",
    )
    evidence: list[Evidence] = Field(description="the items the rationale cites")
    warnings: list[SafetyWarning] = Field(default_factory=list)
    condition: EntityRef | None = Field(default=None, description="the condition it is for")

    def backing(self) -> str:
        """What backs it, in words: its listed indication's sources, else its score.

        A listed indication is named by its sources rather than the ranker's probability:
        that probability (it, rather than the unlisted candidates, is the condition's drug)
        is near 1 by construction and would read as certainty.
        """
        if self.indicated_by:
            return f"listed indication: {', '.join(self.indicated_by)}"
        if self.probability is not None:
            return f"ranker probability {self.probability:.2f}"
        return f"evidence score {self.score:.2f}"


class ConditionAnswer(BaseModel):
    """What the answer says about one of the patient's conditions."""

    condition: EntityRef
    status: Literal["options", "treated", "withheld", "no_options"] = Field(
        description="options: drugs are recommended for it; treated: a current medication "
        "treats it; withheld: every option was withheld for safety; no_options: none found"
    )
    drug_ids: list[str] = Field(default_factory=list, description="its recommended drugs")
    confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the ranker's probability of its best option (at most 0.3 when no "
        "option shows the model's grounded explanation)",
    )
    reason: str = Field(default="", description="why it has no options")


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

    @classmethod
    def current(
        cls, model: str | None = None, adapter: str | None = None, data: str = "unknown"
    ) -> Versions:
        """This package's and prompt's versions, with the given model, adapter and data."""
        return cls(
            package=__version__, prompt=PROMPT_VERSION, model=model, adapter=adapter, data=data
        )


class AgentResult(BaseModel):
    """The whole answer for one patient."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    disclaimer: str = DISCLAIMER
    abstained: bool
    reason: str = Field(default="", description="why the agent abstained")
    recommendations: list[DrugRecommendation] = Field(default_factory=list)
    conditions: list[ConditionAnswer] = Field(
        default_factory=list, description="per condition of the patient: its options, or why none"
    )
    warnings: list[SafetyWarning] = Field(
        default_factory=list, description="every safety finding, withheld drugs included"
    )
    notes: list[str] = Field(default_factory=list)
    confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="with the ranker: the lowest of the conditions' confidences (calibrated); "
        "without it, the model's own",
    )
    low_confidence: bool = False
    fallback: bool = Field(default=False, description="ranked by evidence, not the model")
    patient: PatientView = Field(default_factory=PatientView)
    review: Review | None = None
    versions: Versions
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def grouped(self) -> list[tuple[ConditionAnswer | None, list[DrugRecommendation]]]:
        """Each condition with its drugs, then (``None``) any drug that names no condition."""
        by_id = {d.drug_id: d for d in self.recommendations}
        groups = [(a, [by_id[i] for i in a.drug_ids if i in by_id]) for a in self.conditions]
        listed = {i for a in self.conditions for i in a.drug_ids}
        rest = [d for d in self.recommendations if d.drug_id not in listed]
        return [*groups, *([(None, rest)] if rest else [])]


def _scores(evidence: list[Evidence]) -> dict[str, float]:
    """Each drug's evidence support (the fallback ranking's), scaled so the best is 1.0."""
    totals = support(evidence)
    best = max(totals.values(), default=0.0)
    return {d: round(t / best, 3) for d, t in totals.items()} if best > 0 else {}


SOURCE_NAMES = {"DRUGBANK": "DrugBank", "Hetionet": "Hetionet", "GNBR": "GNBR"}
"""Display names of the graph's indication sources (the relation's prefix)."""


def _indication_sources(state: State) -> dict[tuple[str, str], list[str]]:
    """Per (condition, drug), the sources whose edges list the drug as treating it."""
    if not state.evidence:
        return {}
    found: dict[tuple[str, str], list[str]] = {}
    for cand in KGEvidence.model_validate(state.evidence).candidates:
        prefixes = (e.relation.split("::")[0] for e in cand.edges)
        names = [SOURCE_NAMES.get(p, p) for p in prefixes]
        if names:
            found[cand.condition, cand.drug.local_id] = list(dict.fromkeys(names))
    return found


def _per_condition(
    state: State,
    drugs: list[DrugRecommendation],
    warnings: list[SafetyWarning],
    name_of: Callable[[str], str | None],
) -> list[ConditionAnswer]:
    """Each linked condition's options, or why it has none."""
    evidence = KGEvidence.model_validate(state.evidence) if state.evidence else None
    treated = evidence.treated() if evidence else {}
    chosen = (
        Recommendation.model_validate(state.model_recommendation).choices
        if (state.model_recommendation)
        else []
    )
    vetoed = {w.drug_id for w in warnings if w.severity == "veto"}
    answers = []
    for condition in state.conditions:
        ref = EntityRef(id=condition, name=name_of(condition) or condition)
        ids = [d.drug_id for d in drugs if d.condition and d.condition.id == condition]
        if ids:
            options = [d for d in drugs if d.drug_id in ids and not d.alternative]
            options = options or [d for d in drugs if d.drug_id in ids]
            confidence = (
                max(d.probability or 0.0 for d in options)
                if all(d.probability is not None for d in options)
                else None
            )
            if confidence is not None and not any(d.grounded and not d.templated for d in options):
                confidence = min(confidence, UNGROUNDED_CONFIDENCE)  # no explanation shown
            answers.append(
                ConditionAnswer(
                    condition=ref, status="options", drug_ids=ids, confidence=confidence
                )
            )
        elif condition in state.general:
            reason = (
                f"{ref.name}: a category of diseases rather than a diagnosis, too general to "
                "choose a drug for."
            )
            answers.append(ConditionAnswer(condition=ref, status="no_options", reason=reason))
        elif condition in treated:
            by = ", ".join(treated[condition])
            reason = f"{ref.name}: treated by {by} (a current medication)."
            answers.append(ConditionAnswer(condition=ref, status="treated", reason=reason))
        elif any(c.condition == condition and c.drug_id in vetoed for c in chosen) or any(
            c.condition == condition and c.drug.local_id in vetoed
            for c in (evidence.candidates if evidence else [])
        ):
            reason = f"{ref.name}: every option was withheld for safety (see the warnings)."
            answers.append(ConditionAnswer(condition=ref, status="withheld", reason=reason))
        else:
            reason = f"{ref.name}: no drug is supported by the evidence found."
            answers.append(ConditionAnswer(condition=ref, status="no_options", reason=reason))
    return answers


def build_result(
    state: State,
    name_of: Callable[[str], str | None],
    review: Review | None = None,
    data: str = "unknown",
) -> AgentResult:
    """The answer for ``state`` (after any stage, abstained or not).

    Args:
        state: the graph state at the end of the run.
        name_of: display name of an entity id.
        review: the reviewer's decision, if any.
        data: the data version (see :func:`kedrec_agent.kg.build.data_version`).
    """
    evidence = [Evidence.model_validate(e) for e in state.reasoning_evidence]
    by_id = {e.id: e for e in evidence}
    scores = _scores(evidence)
    probability = {(c, d): p for c, drugs in state.probabilities.items() for d, p in drugs.items()}
    warnings = [SafetyWarning.model_validate(w) for w in state.warnings]
    sources = _indication_sources(state)
    rec = Recommendation.model_validate(state.recommendation) if state.recommendation else None
    drugs = [
        DrugRecommendation(
            rank=rank,
            drug_id=choice.drug_id,
            name=choice.drug_name,
            score=scores.get(choice.drug_id, 0.0),
            probability=probability.get((choice.condition or "", choice.drug_id)),
            indicated_by=sources.get((choice.condition or "", choice.drug_id), []),
            rationale=choice.rationale,
            grounded=choice.grounded,
            templated=choice.templated,
            alternative=choice.alternative,
            evidence=[by_id[i] for i in choice.evidence_ids if i in by_id],
            warnings=[w for w in warnings if choice.drug_id in (w.drug_id, w.other_id)],
            condition=EntityRef(
                id=choice.condition, name=name_of(choice.condition) or choice.condition
            )
            if choice.condition
            else None,
        )
        for rank, choice in enumerate(rec.choices if rec and not state.abstained else [], 1)
    ]
    abstained, reason = state.abstained, state.reason
    if not abstained and not drugs:
        abstained = True
        reason = reason or "The evidence does not support recommending a drug."
    model: Mapping[str, Any] = state.model

    def view(ids: list[str]) -> list[EntityRef]:
        return [EntityRef(id=i, name=name_of(i) or i) for i in ids]

    return AgentResult(
        abstained=abstained,
        reason=reason,
        recommendations=drugs,
        conditions=_per_condition(state, drugs, warnings, name_of),
        warnings=warnings,
        notes=list(state.notes),
        confidence=rec.confidence if rec else None,
        low_confidence=state.low_confidence,
        fallback=bool(rec and rec.fallback),
        patient=PatientView(
            conditions=view(state.conditions),
            medications=view(state.medications),
            allergies=view(state.allergies),
            age=state.age,
            sex=state.sex,
            pregnant=state.pregnant,
        ),
        review=review,
        versions=Versions.current(model.get("model"), model.get("adapter"), data),
        timings_ms=dict(state.timings),
    )
