"""Graph nodes: plain functions of (state, runtime, services), each testable without the graph.

Every node is wrapped by :func:`stage`, which adds its duration to ``state.timings`` and
reports its start and end on the ``custom`` stream; :func:`bind` gives it its services,
making the ``(state, runtime)`` function the graph runs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import ValidationError

from kedrec_agent.agent.candidates import usable_candidates
from kedrec_agent.agent.context import Context, context_of
from kedrec_agent.agent.evidence import pair_passages, reasoning_task
from kedrec_agent.agent.patient import link_patient
from kedrec_agent.agent.result import Review, build_result
from kedrec_agent.agent.scoring import rank_candidates
from kedrec_agent.agent.state import State
from kedrec_agent.errors import KedrecError, UnknownEntityError
from kedrec_agent.kg.evidence import KGEvidence, gather_evidence
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.literature.search import Hit, hits_for_candidates
from kedrec_agent.patients.model import PatientInput, validation_message
from kedrec_agent.ranking.semantic import NameSimilarity
from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.reasoning.output import fallback
from kedrec_agent.reasoning.problems import recommend_per_condition
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.schema import EntityRef, PatientView, ReasoningTask, Recommendation
from kedrec_agent.safety.checks import SafetyWarning, check_recommendation
from kedrec_agent.safety.classes import DrugClasses
from kedrec_agent.safety.comorbidity import Caution, comorbidity_cautions
from kedrec_agent.safety.crossreactivity import allergens, cross_reactivity
from kedrec_agent.safety.pregnancy import (
    Risk,
    contraindication,
    implies_pregnancy,
    preferred_in_pregnancy,
    pregnancy_cautions,
    pregnancy_risk,
    to_avoid,
)
from kedrec_agent.safety.severity import worst_with
from kedrec_agent.services import Services

log = logging.getLogger(__name__)


class Node(Protocol):
    """A graph node as the graph runs it: ``(state, runtime) -> state update``."""

    __name__: str

    def __call__(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """The state update."""


class ServiceNode(Protocol):
    """A node before its services are bound: ``(state, runtime, services) -> update``."""

    __name__: str

    def __call__(
        self, state: State, runtime: Runtime[Context], services: Services
    ) -> dict[str, Any]:
        """The state update."""


def stage(node: ServiceNode) -> ServiceNode:
    """Time ``node`` into ``timings`` and report it on the custom stream."""
    name = node.__name__

    @functools.wraps(node)
    def timed(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
        runtime.stream_writer({"stage": name, "status": "started"})
        started = time.perf_counter()
        update = node(state, runtime, services)
        ms = round((time.perf_counter() - started) * 1000, 1)
        runtime.stream_writer({"stage": name, "status": "done", "ms": ms})
        return {**update, "timings": {name: ms}}

    return timed


def bind(node: ServiceNode, services: Services) -> Node:
    """``node`` as the graph runs it, with ``services``."""

    def bound(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        return node(state, runtime, services)

    bound.__name__ = bound.__qualname__ = node.__name__
    bound.__doc__ = node.__doc__
    return bound


def _abstain(reason: str, **update: Any) -> dict[str, Any]:
    return {"abstained": True, "reason": reason, **update}


def _patient(state: State) -> PatientInput:
    data = dict(state.record)
    if state.patient:
        data["text"] = f"{data.get('text') or ''}\n{state.patient}".strip()
    return PatientInput.model_validate(data)


@stage
def link(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """Resolve the patient's conditions, medications, allergies, age and sex."""
    try:
        linked = link_patient(services.linker(), _patient(state))
    except ValidationError as exc:
        return _abstain(validation_message(exc))
    except KedrecError as exc:
        return _abstain(str(exc))
    notes: list[str] = []
    warnings: list[dict[str, Any]] = []
    for what, value, problem in linked.unlinked:
        if what == "conditions":
            notes.append(f"Condition {value!r} was not recognised ({problem}).")
        else:
            checked = "interactions" if what == "medications" else "allergy conflicts"
            warnings.append(
                SafetyWarning(
                    kind="unchecked",
                    severity="warning",
                    message=f"{what[:-1].capitalize()} {value!r} was not recognised, so its "
                    f"{checked} were not checked ({problem}).",
                ).model_dump()
            )
    update: dict[str, Any] = {
        "age": linked.age,
        "sex": linked.sex,
        "pregnant": _pregnant(linked.pregnant, linked.conditions, services),
        "conditions": linked.conditions,
        "condition_names": linked.names,
        "medications": linked.medications,
        "allergies": linked.allergies,
        "notes": notes,
        "warnings": warnings,
    }
    if not linked.conditions:
        return _abstain(
            "No condition could be recognised in the patient description; please name the "
            "diagnosis (e.g. 'type 2 diabetes').",
            **update,
        )
    return update


@stage
def kg_evidence(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """Candidate drugs, mechanism paths and interactions from the knowledge graph."""
    context = context_of(runtime)
    mentions = _co_mentions(state.conditions, context, services)
    name_of = _name_of(state, services)
    tables = _drug_tables(services)
    risk = _risk(state)
    try:
        kg = services.kg()
        if context.exclusions:
            kg = kg.with_exclusions(context.exclusions)
        general = [
            c
            for c in state.conditions
            if kg.hierarchy.is_category(kg.equivalences.concept(c).equivalents)
        ]
        if general and len(general) == len(state.conditions):
            return _abstain(
                "The recognised conditions are categories of disease rather than diagnoses "
                "(e.g. 'Neoplasms'): too general to choose a drug for.",
                general=general,
            )
        under = _under(kg)
        evidence = gather_evidence(
            kg,
            [c for c in state.conditions if c not in general],
            state.medications,
            top_k=context.top_k,
            paths_per_drug=context.paths_per_drug,
            mentions=mentions,
            names={c: name_of(c) or c for c in state.conditions},
            established=tables.established,
            groups=tables.therapeutic_groups,
            set_aside=(lambda drug: to_avoid(drug, risk, tables)) if risk else None,
            preferred=lambda drug, condition: preferred_in_pregnancy(drug, condition, risk, under),
        )
    except KedrecError as exc:
        return _abstain(f"Knowledge graph unavailable: {exc}")
    # a current medication contraindicated in pregnancy is to be switched: its condition
    # gets options (a statin, only to be stopped, is not: the caution says so)
    evidence.replace = [
        d for d in state.medications if contraindication(d, d, risk, tables) is not None
    ]
    if not evidence.candidates:
        return _abstain(
            "The knowledge graph has no candidate drug for the recognised conditions.",
            evidence=evidence.model_dump(),
        )
    if all(c.already_taking for c in evidence.candidates):
        return _abstain(
            "The patient already takes every candidate drug the graph proposes.",
            evidence=evidence.model_dump(),
        )
    usable = usable_candidates(
        evidence,
        state.allergies,
        name_of,
        _drug_classes(services),
        tables,
        lambda drug, name: contraindication(drug, name, risk, tables),
    )
    update: dict[str, Any] = {
        "general": general,
        "evidence": evidence.model_dump(),
        "usable": usable.evidence.model_dump(),
        "warnings": [v.model_dump() for v in usable.vetoes],
        "notes": usable.notes,
    }
    if not usable.evidence.candidates:
        treated = evidence.treated()
        if treated and not usable.vetoes:
            by = "; ".join(f"{name_of(c) or c} by {', '.join(d)}" for c, d in treated.items())
            return _abstain(
                f"Nothing to add: every recognised condition is treated by a current "
                f"medication ({by}).",
                **update,
            )
        return _abstain(
            "No candidate is left: every recognised condition is treated by a current "
            "medication, or its candidates conflict with the patient's allergies.",
            **update,
        )
    return update


def _co_mentions(
    conditions: list[str], context: Context, services: Services
) -> dict[str, dict[str, int]]:
    """Per condition, the literature's documents naming each drug with it (for ranking)."""
    if not context.literature or not conditions:
        return {}
    found: dict[str, dict[str, int]] = {}
    try:
        search = services.literature()
        for condition in conditions:
            try:
                found[condition] = search.co_mentions(condition)
            except UnknownEntityError:
                found[condition] = {}
    except KedrecError as exc:
        # The literature node says that the literature is unavailable.
        log.warning("literature co-mentions unavailable: %s", type(exc).__name__)
    return found


@stage
def literature(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """Passages about each candidate and its condition; without them if the store is down."""
    context = context_of(runtime)
    if not context.literature:
        return {"notes": ["Literature search was switched off for this run."]}
    usable = KGEvidence.model_validate(state.usable)
    found: dict[str, Any] = {}
    unnamed = 0
    pairs = [(c.drug.local_id, c.condition) for c in usable.candidates]
    try:
        for drug, hits in hits_for_candidates(services.literature(), pairs, context.literature_k):
            unnamed += hits is None
            found[drug] = [h.model_dump() for h in hits or []]
    except KedrecError as exc:
        log.warning("literature unavailable: %s", type(exc).__name__)
        return {"literature": found, "notes": [f"Literature unavailable: {exc}"]}
    if unnamed:
        return {"literature": found, "notes": [_unnamed_note(unnamed)]}
    return {"literature": found}


def _unnamed_note(count: int) -> str:
    return (
        f"{count} candidate(s) have no name the literature search knows; "
        "no passages were searched for them."
    )


def _pregnant(stated: bool | None, conditions: list[str], services: Services) -> bool | None:
    """Pregnant as stated, else if a condition is a complication of pregnancy, else unknown."""
    if stated is not None:
        return stated
    try:
        kg = services.kg()
    except KedrecError:  # the graph node will say it is down
        return None
    return True if implies_pregnancy(conditions, _under(kg)) else None


def _under(kg: KnowledgeGraph) -> Callable[[str, str], bool]:
    """``(disease, ancestor) ->`` whether the disease or an equivalent is under the heading."""

    def under(disease: str, ancestor: str) -> bool:
        return kg.hierarchy.under(kg.equivalences.concept(disease).equivalents, ancestor)

    return under


def _name_of(state: State, services: Services) -> Callable[[str], str | None]:
    """Display names: a condition's name as linked, else the vocabulary's preferred name."""
    preferred = services.linker().name_of

    def name_of(entity_id: str) -> str | None:
        return state.condition_names.get(entity_id) or preferred(entity_id)

    return name_of


def _refs(ids: list[str], name_of: Callable[[str], str | None]) -> list[EntityRef]:
    return [EntityRef(id=i, name=name_of(i) or i) for i in ids]


@stage
def rank(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """The learned ranker's calibrated probability for each condition's candidates.

    Without the ranker (switched off, or its artifact unusable) the candidates keep the
    clinical order of the knowledge-graph tool, and the answer says so.
    """
    context = context_of(runtime)
    if not context.ranker:
        return {"notes": ["The learned ranker was switched off: candidates in the graph's order."]}
    usable = KGEvidence.model_validate(state.usable)
    hits = {d: [Hit.model_validate(h) for h in hs] for d, hs in state.literature.items()}
    search = None
    if context.literature and state.literature:
        try:
            search = services.literature()
        except KedrecError:
            search = None  # the literature node said it was unavailable
    try:
        kg = services.kg()
        if context.exclusions:
            kg = kg.with_exclusions(context.exclusions)
        probabilities = rank_candidates(
            services.ranker(), usable, hits, kg, _drug_tables(services), search, _names(services)
        )
    except KedrecError as exc:
        log.warning("ranker unavailable: %s", type(exc).__name__)
        return {"notes": [f"The learned ranker is unavailable ({exc}); graph order used."]}
    return {"probabilities": probabilities}


def _names(services: Services) -> NameSimilarity | None:
    try:
        return services.name_similarity()
    except KedrecError as exc:  # without the embedding model its features are 0
        log.warning("name similarity unavailable: %s", type(exc).__name__)
        return None


def _drug_tables(services: Services) -> DrugTables:
    try:
        return services.drug_tables()
    except KedrecError as exc:  # without the class tables their features are 0
        log.warning("drug tables unavailable: %s", type(exc).__name__)
        return DrugTables()


@stage
def reason(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """The reasoning model's checked choice among the candidates, citing the evidence.

    Its answer streams as ``{"token": …}`` items on the custom stream.
    """
    context = context_of(runtime)
    evidence = KGEvidence.model_validate(state.evidence)
    usable = KGEvidence.model_validate(state.usable)
    name_of = _name_of(state, services)
    patient = PatientView(
        conditions=_refs(state.conditions, name_of),
        medications=_refs(state.medications, name_of),
        allergies=_refs(state.allergies, name_of),
        age=state.age,
        sex=state.sex,
    )
    hits = {d: [Hit.model_validate(h) for h in hs] for d, hs in state.literature.items()}
    names = {c: name_of(c) or c for c in state.conditions}
    severities = services.severities()
    tables = _drug_tables(services)
    interacting = worst_with(
        [c.drug.local_id for c in evidence.candidates],
        state.medications,
        evidence.interactions,
        severities,
    )
    task = reasoning_task(
        patient,
        usable,
        pair_passages(hits, usable, _same_disease(services)),
        names,
        max_choices=context.max_choices,
        interacting=interacting,
        probabilities=state.probabilities,
        cautions=_cautions(state, usable, services),
        classes={
            c.drug.local_id: sorted(tables.classes_of(c.drug.local_id)) for c in usable.candidates
        },
    )

    def together(drugs: Sequence[str], chosen: Sequence[str]) -> dict[str, str]:
        return dict(worst_with(drugs, chosen, evidence.interactions, severities))

    model_info: dict[str, Any] = {"model": None, "adapter": None}
    notes: list[str] = []
    try:
        backend = services.backend()
        model_info = dict(backend.info())
        reasoner = Reasoner(backend)

        def answer(sub: ReasoningTask) -> Recommendation:
            condition = sub.candidates[0].condition
            return reasoner.recommend(
                sub,
                on_text=lambda text: runtime.stream_writer({"token": text, "condition": condition}),
            )

        recommendation = recommend_per_condition(task, answer, together, concurrent=True)
    except KedrecError as exc:  # model missing, unloadable or its server down: evidence ranks
        problem = f"the reasoning model is unavailable: {exc}"
        recommendation = recommend_per_condition(task, lambda sub: fallback(sub, problem), together)
        notes.append(
            f"Reasoning model unavailable ({exc}): the options are ranked by their evidence, "
            "without the model's explanation."
        )
    update: dict[str, Any] = {
        "recommendation": recommendation.model_dump(),
        "model_recommendation": recommendation.model_dump(),
        "reasoning_evidence": [e.model_dump() for e in task.evidence],
        "model": model_info,
    }
    if recommendation.choices and recommendation.confidence < context.min_confidence:
        low = f"Low confidence ({recommendation.confidence:.2f} < {context.min_confidence:.2f})"
        if context.low_confidence == "abstain":
            return _abstain(f"{low}: the evidence does not support a recommendation.", **update)
        update["low_confidence"] = True
        notes.append(
            f"{low}: treat these as options to check against the evidence, not as a recommendation."
        )
    if notes:
        update["notes"] = notes
    return update


def _cautions(state: State, evidence: KGEvidence, services: Services) -> dict[str, Caution]:
    """Per candidate, why an alternative should go first: its cautions joined, strong if one is."""
    found: dict[str, list[Caution]] = {}
    for kind in (_allergy_cautions, _comorbidity_cautions, _pregnancy_cautions):
        for drug, caution in kind(state, evidence, services).items():
            found.setdefault(drug, []).append(caution)
    return {
        drug: Caution(" ".join(c.message for c in each), any(c.strong for c in each))
        for drug, each in found.items()
    }


def _allergy_cautions(state: State, evidence: KGEvidence, services: Services) -> dict[str, Caution]:
    """Per candidate, a cross-reactive allergy (a cephalosporin after a penicillin allergy)."""
    tables, classes = _drug_tables(services), _drug_classes(services)
    allergic = allergens(state.allergies, services.linker().name_of, classes, tables)
    found = {
        c.drug.local_id: cross_reactivity(
            c.drug.local_id, c.drug.label or "", allergic, tables, classes
        )
        for c in evidence.candidates
    }
    return {drug: Caution(message) for drug, message in found.items() if message}


def _comorbidity_cautions(
    state: State, evidence: KGEvidence, services: Services
) -> dict[str, Caution]:
    """Per candidate, a condition of the patient it can worsen (SIDER: another one; its class)."""
    return _cautions_for(
        state,
        [
            (c.drug.local_id, c.drug.label or c.drug.local_id, condition)
            for c in evidence.candidates
            for condition in (c.condition, *c.also_treats)  # indicated: not a caution
        ],
        services,
    )


def _risk(state: State) -> Risk | None:
    """Which pregnancy rules apply to the patient (:func:`pregnancy_risk`)."""
    return pregnancy_risk(state.pregnant, state.sex, state.age)


def _pregnancy_cautions(
    state: State, evidence: KGEvidence, services: Services
) -> dict[str, Caution]:
    """Per candidate, a drug to avoid in pregnancy (or, before one, without prevention)."""
    drugs = [(c.drug.local_id, c.drug.label or c.drug.local_id) for c in evidence.candidates]
    return pregnancy_cautions(drugs, _risk(state), _drug_tables(services))


def _current_medication_cautions(
    state: State, evidence: KGEvidence, services: Services
) -> dict[str, Caution]:
    """Per current medication, a condition of the patient it can worsen.

    A thiazide taken for hypertension by a patient with gout raises uric acid: the
    clinician should know, and may switch it. A medication is not cautioned for a condition
    it treats; its caution names it "(a current medication)".
    """
    if not state.medications:
        return {}
    treats: dict[str, list[str]] = {}
    for c in evidence.candidates:
        if c.already_taking and c.edges:
            treats.setdefault(c.drug.local_id, []).append(c.condition)
    name_of = _name_of(state, services)
    return _cautions_for(
        state,
        [
            (drug, f"{name_of(drug) or drug} (a current medication)", condition)
            for drug in state.medications
            for condition in treats.get(drug) or [""]
        ],
        services,
    )


def _current_pregnancy_cautions(state: State, services: Services) -> dict[str, Caution]:
    """Per current medication, a drug to avoid in pregnancy (lisinopril for a pregnant woman)."""
    name_of = _name_of(state, services)
    drugs = [(d, f"{name_of(d) or d} (a current medication)") for d in state.medications]
    return pregnancy_cautions(drugs, _risk(state), _drug_tables(services))


def _cautions_for(
    state: State, candidates: list[tuple[str, str, str]], services: Services
) -> dict[str, Caution]:
    """The cautions of ``(drug id, name, condition it is for)`` for the patient's conditions.

    None where the side-effect table is unavailable (:func:`comorbidity_cautions`).
    """
    try:
        effects = services.side_effects()
        kg = services.kg()
    except KedrecError as exc:  # without them no comorbidity is checked
        log.warning("side effects unavailable: %s", type(exc).__name__)
        return {}
    name_of = _name_of(state, services)
    return comorbidity_cautions(
        candidates,
        state.conditions,
        {c: name_of(c) or c for c in state.conditions},
        effects,
        lambda d: kg.equivalences.concept(d).equivalents,
        _drug_tables(services).classes_of,
    )


def _same_disease(services: Services) -> Callable[[str, str], bool]:
    """Whether two disease ids are the same disease (DOID/MeSH equivalents; else exact)."""
    try:
        return services.kg().equivalences.same
    except KedrecError:
        return lambda a, b: a == b


@stage
def safety(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """Withhold drugs the patient is allergic to or already takes; warn of interactions."""
    recommendation = Recommendation.model_validate(state.recommendation)
    evidence = KGEvidence.model_validate(state.evidence)
    classes = _drug_classes(services)
    usable = KGEvidence.model_validate(state.usable) if state.usable else evidence
    allergy = _allergy_cautions(state, usable, services)
    checked, warnings = check_recommendation(
        recommendation,
        state.medications,
        state.allergies,
        evidence.interactions,
        services.linker().name_of,
        classes,
        services.severities(),
        cross_reactive=allergy,
    )
    cautioned: tuple[
        tuple[Literal["allergy", "comorbidity", "pregnancy"], dict[str, Caution]], ...
    ] = (
        ("allergy", allergy),
        ("comorbidity", _comorbidity_cautions(state, usable, services)),
        ("pregnancy", _pregnancy_cautions(state, usable, services)),
    )
    for kind, cautions in cautioned:
        warnings += [
            SafetyWarning(kind=kind, severity="warning", drug_id=c.drug_id, message=found.message)
            for c in checked.choices
            if (found := cautions.get(c.drug_id))
        ]
    current: tuple[tuple[Literal["comorbidity", "pregnancy"], dict[str, Caution]], ...] = (
        ("comorbidity", _current_medication_cautions(state, evidence, services)),
        ("pregnancy", _current_pregnancy_cautions(state, services)),
    )
    warnings += [
        SafetyWarning(kind=kind, severity="warning", drug_id=drug, message=found.message)
        for kind, cautions in current
        for drug, found in cautions.items()
    ]
    update = {
        "recommendation": checked.model_dump(),
        "warnings": [w.model_dump() for w in warnings],
    }
    if recommendation.choices and not checked.choices:
        return _abstain("Every recommended drug was withheld for safety.", **update)
    return update


def _drug_classes(services: Services) -> DrugClasses:
    try:
        return services.drug_classes()
    except KedrecError as exc:  # without the MeSH tree only same-drug allergies are caught
        log.warning("MeSH classes unavailable: %s", type(exc).__name__)
        return DrugClasses({}, {}, {})


REVIEW_QUESTION = (
    'Review the recommendation: resume with {"action": "approve"}, {"action": "edit", '
    '"drop": ["DB…"], "note": "…"} or {"action": "reject", "note": "why"}.'
)


@stage
def review(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """Pause for a clinician (LangGraph ``interrupt``); apply their approve / edit / reject.

    An invalid decision asks again, saying what was wrong.
    """
    payload: dict[str, Any] = {
        "question": REVIEW_QUESTION,
        "recommendation": state.recommendation,
        "warnings": state.warnings,
    }
    while True:
        answer = interrupt(payload)
        try:
            decision = Review.model_validate(answer)
            break
        except ValidationError as exc:
            payload = {**payload, "error": validation_message(exc, "The review decision")}
    update: dict[str, Any] = {"review": decision.model_dump()}
    who = decision.reviewer or "the reviewer"
    if decision.action == "reject":
        return _abstain(f"Rejected by {who}: {decision.note or 'no reason given'}", **update)
    if decision.action == "edit":
        recommendation = Recommendation.model_validate(state.recommendation)
        kept = [c for c in recommendation.choices if c.drug_id not in set(decision.drop)]
        update["recommendation"] = recommendation.model_copy(update={"choices": kept}).model_dump()
        update["notes"] = [f"Edited by {who}: removed {', '.join(decision.drop) or 'nothing'}."]
        if not kept:
            return _abstain(f"{who.capitalize()} removed every recommended drug.", **update)
    if decision.note:
        update["notes"] = [*update.get("notes", []), f"Reviewer's note: {decision.note}"]
    return update


@stage
def answer(state: State, runtime: Runtime[Context], services: Services) -> dict[str, Any]:
    """The versioned answer (``result``), built from whatever stage the run ended at."""
    decision = Review.model_validate(state.review) if state.review else None
    result = build_result(state, _name_of(state, services), decision, services.data_version())
    return {"result": result.model_dump()}
