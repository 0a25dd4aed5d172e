"""Turn the model's text into a checked :class:`Recommendation`, or fall back.

1. **Parse and repair**: the JSON after the answer prefix is parsed; broken JSON (a missing
   brace, a trailing comma, text cut off by the token limit) is repaired with
   ``json_repair``.
2. **Validate**: against :class:`ModelAnswer`; a drug given by name instead of id is mapped
   to its id.
3. **Check ids**: a drug that is not a candidate, a repeated drug, a drug without any
   shown evidence, an evidence id that was not given and one whose item is about other
   candidates only are removed and counted (``removed_ids``). A choice that cites no given
   evidence keeps its drug but not its rationale (``grounded=False``): it points to the
   evidence about the drug instead of showing text the model did not ground.
4. **Fallback**: if nothing usable is left, a deterministic ranking by evidence (the
   learned ranker's probabilities when the candidates carry them, else how much evidence,
   and how strong, each candidate has) replaces the answer, marked ``fallback=True`` with
   the reason. An empty choice list written on purpose is an abstention, not a failure.
5. **Confidence**: with the ranker's probabilities, the answer's confidence is the
   calibrated probability of its best choice, never the model's self-report; a choice the
   model departs to without citing evidence goes behind the ones it grounded. Answers whose
   text is not the model's grounded rationale (templated by the gate, or citing nothing) are
   capped at :data:`UNGROUNDED_CONFIDENCE`.

Nothing here raises on bad model output.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

import json_repair
from pydantic import ValidationError

from kedrec_agent.reasoning.gate import (
    cited_ids,
    entity_ids,
    evidence_facts,
    rationale_problem,
    templated_rationale,
    whole_sentences,
    without_provenance,
    words,
)
from kedrec_agent.reasoning.prompts import LABELS, PROMPT_VERSION, SYSTEM
from kedrec_agent.reasoning.ranking import SIMILAR, avoid, evidence_weights, ranked_candidates
from kedrec_agent.reasoning.schema import (
    Candidate,
    Choice,
    Evidence,
    ModelAnswer,
    ModelChoice,
    ReasoningTask,
    Recommendation,
)

log = logging.getLogger(__name__)

FALLBACK_CONFIDENCE = 0.2
UNGROUNDED_CONFIDENCE = 0.3


def parse_answer(text: str) -> ModelAnswer | None:
    """The model's answer as JSON (repaired if need be), or ``None`` if it is unusable."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        data: Any = json_repair.loads(text[start:])
    except Exception:  # json_repair is lenient; anything it still rejects is unusable
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return None
    if "choices" not in data and "drug" in data:
        data = {"choices": [data], "confidence": data.get("confidence", 0.5)}
    if isinstance(data.get("choices"), dict):
        data["choices"] = [data["choices"]]
    for choice in data.get("choices") or ():
        if isinstance(choice, dict):  # small models write "evidence": "E1" or "none"
            if isinstance(choice.get("evidence"), str):
                choice["evidence"] = [choice["evidence"]]
            if not isinstance(choice.get("rationale", ""), str):
                choice["rationale"] = str(choice["rationale"])
    try:
        confidence = float(data.get("confidence", 0.5))
    except (TypeError, ValueError):
        confidence = 0.5
    data["confidence"] = min(1.0, max(0.0, confidence))
    try:
        return ModelAnswer.model_validate(data)
    except ValidationError:
        return None


def _tidy(text: str, *labels: str) -> str:
    """The rationale, whitespace normalised, repeated sentences and a leading label dropped.

    A label is the drug's name or id before a colon or dash (``"Amlodipine: Amlodipine
    is ..."``): the answer already names the drug. A graph relation's name copied from the
    evidence ("(DRUGBANK::treats::Compound:Disease)") is dropped too: the cited item shows it.
    """
    text = " ".join(without_provenance(text).split())
    for label in labels:
        head = re.match(rf"{re.escape(label)}\s*[:\-\u2013\u2014]\s*", text, re.IGNORECASE)
        if head and text[head.end() :]:
            text = text[head.end() :]
            break
    seen: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if sentence and sentence not in seen:
            seen.append(sentence)
    return " ".join(seen)


def _gated(text: str, check: Callable[[str], str | None]) -> tuple[str, str | None]:
    """The rationale to show and why it fails the gate (``None``: it passes).

    A last sentence cut off (by the answer's length cap) is dropped when the rest passes.
    """
    whole = whole_sentences(text)
    if whole is not None and check(whole) is None:
        return whole, None
    return text, check(text)


def _drug_id(choice: ModelChoice, task: ReasoningTask) -> str | None:
    wanted = choice.drug.strip()
    for candidate in task.candidates:
        if wanted.upper() == candidate.id.upper() or wanted.lower() == candidate.name.lower():
            return candidate.id
    return None


def check_answer(
    answer: ModelAnswer, task: ReasoningTask, shown: set[str] | None = None
) -> tuple[list[Choice], int]:
    """Choices restricted to the candidates, each citing only shown items about its drug.

    ``shown`` is the set of evidence ids the prompt showed (default: all); an item about no
    drug in particular may be cited by any choice.

    Returns:
        The checked choices (at most ``task.max_choices``) and the number of ids removed.
    """
    known = shown if shown is not None else {e.id for e in task.evidence}
    about = {e.id: e.drugs for e in task.evidence}
    names = {c.id: c.name for c in task.candidates}
    condition_of = {c.id: c.condition for c in task.candidates}
    conditions = {e.id: e.name for e in task.patient.conditions}
    words_shown = shown_words(task)
    removed = 0
    choices: list[Choice] = []
    for raw in answer.choices:
        drug = _drug_id(raw, task)
        if drug is None or drug in {c.drug_id for c in choices}:
            removed += 1
            continue
        templated = False
        cited = list(dict.fromkeys(e.strip() for e in raw.evidence))

        def citable(e: str, drug: str = drug) -> bool:
            return e in known and (not about[e] or drug in about[e])

        kept = [e for e in cited if citable(e)]
        removed += len(cited) - len(kept)
        if kept:
            # an id the text cites but the list forgot counts, if it is shown about the drug
            in_text = dict.fromkeys(cited_ids(raw.rationale))
            kept += [e for e in in_text if e not in kept and citable(e)]
            evidence_ids = kept
            check = partial(
                rationale_problem,
                drug=names[drug],
                other_drugs=[n for i, n in names.items() if i != drug],
                condition=conditions.get(condition_of.get(drug) or ""),
                other_conditions=[n for i, n in conditions.items() if i != condition_of.get(drug)],
                cited=kept,
                ids=_ids_shown(drug, condition_of.get(drug), task, kept),
                shown=words_shown,
            )
            text, problem = _gated(raw.rationale, check)
            rationale = _tidy(text, names[drug], drug)
            if problem is not None:
                items = [e for e in task.evidence if e.id in kept]
                rationale, templated = templated_rationale(names[drug], items, problem), True
        else:  # a rationale that cites nothing given is not shown as one
            evidence_ids = [e.id for e in task.evidence if drug in e.drugs and e.id in known]
            if not evidence_ids:  # nothing shown supports this drug: not recommended
                removed += 1
                continue
            rationale = (
                "The model cited no evidence for this choice; see the evidence about "
                f"{names[drug]}: {', '.join(evidence_ids)}."
            )
        choices.append(
            Choice(
                drug_id=drug,
                drug_name=names[drug],
                rationale=rationale,
                evidence_ids=evidence_ids,
                grounded=bool(kept),
                templated=templated,
            )
        )
    return choices[: task.max_choices], removed


def ranker_confidence(task: ReasoningTask, choices: list[Choice]) -> float | None:
    """The ranker's probability of the best of ``choices`` (``None``: no ranker)."""
    probability = {c.id: c.probability for c in task.candidates}
    if not choices or any(probability.get(c.drug_id) is None for c in choices):
        return None
    return max(probability[c.drug_id] or 0.0 for c in choices)


def _grounded_first(task: ReasoningTask, choices: list[Choice]) -> list[Choice]:
    """The model's grounded choices in its order, then the others by the ranker."""
    probability = {c.id: c.probability or 0.0 for c in task.candidates}
    rest = sorted((c for c in choices if not c.grounded), key=lambda c: -probability[c.drug_id])
    return [c for c in choices if c.grounded] + rest


def fallback(task: ReasoningTask, problem: str, removed: int = 0) -> Recommendation:
    """Candidates ranked by their evidence (``ranking.ranked_candidates``), marked as a fallback.

    Candidates without evidence are left out; the answer abstains if none has any. Each
    rationale quotes the drug's evidence (:func:`~kedrec_agent.reasoning.gate.evidence_facts`:
    what it is listed for, how it acts, its class), said not to be the model's.
    """
    cited: dict[str, list[Evidence]] = {c.id: [] for c in task.candidates}
    for item in task.evidence:
        for drug in item.drugs:
            if drug in cited:
                cited[drug].append(item)
    order = [c for c in ranked_candidates(task) if cited[c.id]]
    choices = [
        Choice(
            drug_id=c.id,
            drug_name=c.name,
            rationale=f"Ranked by evidence, not by the model: {evidence_facts(cited[c.id])}",
            evidence_ids=[e.id for e in cited[c.id]],
        )
        for c in order[: task.max_choices]
    ]
    log.info("reasoning fell back to the evidence ranking: %s", problem)
    calibrated = ranker_confidence(task, choices)
    return Recommendation(
        choices=choices,
        confidence=(FALLBACK_CONFIDENCE if choices else 0.0) if calibrated is None else calibrated,
        fallback=True,
        removed_ids=removed,
        prompt_version=PROMPT_VERSION,
        problem=problem,
    )


def with_alternatives(task: ReasoningTask, recommendation: Recommendation) -> Recommendation:
    """The answer with similarly supported, safe alternatives, before a choice to avoid.

    A condition's options are the model's choices plus the next candidates in the ranked
    order (:func:`~kedrec_agent.reasoning.ranking.ranked_candidates`) that have evidence, at
    least :data:`~kedrec_agent.reasoning.ranking.SIMILAR` of the best choice's weight, and
    nothing to avoid (no major interaction with a current medication or an earlier choice,
    no caution). Their rationale is a summary of their evidence, marked as such
    (``alternative`` and ``templated``).

    A choice to avoid (:func:`~kedrec_agent.reasoning.ranking.avoid`) goes behind the
    similarly supported options less to avoid, as in the ranked order: the clinician sees
    the safe alternative first, not a warning. Each such choice makes room for one more
    alternative; the options are then cut to ``task.max_choices``, so an avoided choice
    may fall off behind safe ones. The confidence is then the ranker's for the options kept
    (unchanged without a ranker). An abstention, a fallback (already ranked) or an empty
    answer is returned as it is.
    """
    if recommendation.fallback or not recommendation.choices:
        return recommendation
    weight = evidence_weights(task)
    by_id = {c.id: c for c in task.candidates}
    chosen = recommendation.choices
    floor = SIMILAR * max(weight.get(c.drug_id, 0.0) for c in chosen)
    taken = {c.drug_id for c in chosen}
    room = task.max_choices - len(chosen) + sum(bool(avoid(by_id[d])) for d in taken)
    worst = max(avoid(by_id[d]) for d in taken)
    extra: list[Choice] = []
    for cand in ranked_candidates(task):
        if len(extra) >= room:
            break
        items = [e for e in task.evidence if cand.id in e.drugs]
        if cand.id in taken or not items or weight[cand.id] < floor:
            continue
        if avoid(cand) and avoid(cand) >= worst:  # only less to avoid than every choice
            continue
        extra.append(
            Choice(
                drug_id=cand.id,
                drug_name=cand.name,
                rationale=f"(a summary of its evidence, not the model's text): "
                f"{evidence_facts(items)}",
                evidence_ids=[e.id for e in items],
                templated=True,
                alternative=True,
            )
        )
    options = _safer_first([*chosen, *extra], by_id, weight)[: task.max_choices]
    options = [_introduced(c, options, chosen, by_id) if c.alternative else c for c in options]
    calibrated = ranker_confidence(task, options) if options != chosen else None
    update: dict[str, Any] = {"choices": options}
    if calibrated is not None:
        update["confidence"] = min(recommendation.confidence, calibrated)
    return recommendation.model_copy(update=update)


def _introduced(
    alternative: Choice, options: list[Choice], chosen: list[Choice], by_id: dict[str, Candidate]
) -> Choice:
    """The alternative's rationale headed by what it is: preferred to a choice to avoid, or not.

    The choice to avoid is the model's first that it now precedes (or that fell off); the
    reason is shown in full when that choice is no longer listed (it has no warning then).
    """
    here = options.index(alternative)
    listed = {c.drug_id: i for i, c in enumerate(options)}
    worse = next(
        (
            c
            for c in chosen
            if avoid(by_id[c.drug_id]) and listed.get(c.drug_id, len(options)) > here
        ),
        None,
    )
    if worse is None:
        head = f"Alternative to {chosen[0].drug_name}"
    else:
        cand = by_id[worse.drug_id]
        why = "a major interaction" if cand.interaction == "major" else "a caution"
        if worse.drug_id in listed:
            head = f"Preferred to {worse.drug_name}, which has {why} (see the warnings)"
        else:
            detail = (
                cand.caution
                if cand.interaction != "major"
                else "with a current medication or another recommended drug"
            )
            head = f"Preferred to {worse.drug_name}, which has {why} ({detail})"
    return alternative.model_copy(update={"rationale": f"{head} {alternative.rationale}"})


def _safer_first(
    options: list[Choice], by_id: dict[str, Candidate], weight: dict[str, float]
) -> list[Choice]:
    """Each option to avoid just behind the last similarly supported option less to avoid."""
    order = list(options)
    for choice in sorted(order, key=lambda c: avoid(by_id[c.drug_id])):
        level = avoid(by_id[choice.drug_id])
        if not level:
            continue
        safer = [
            i
            for i, other in enumerate(order)
            if avoid(by_id[other.drug_id]) < level
            and weight.get(other.drug_id, 0.0) >= SIMILAR * weight.get(choice.drug_id, 0.0)
        ]
        here = order.index(choice)
        if safer and safer[-1] > here:
            order.remove(choice)
            order.insert(safer[-1], choice)  # the list shrank by one: just behind it
    return order


def recommendation_from_text(
    text: str, task: ReasoningTask, shown: set[str] | None = None
) -> Recommendation:
    """The checked recommendation in ``text`` (the prefix plus the model's continuation)."""
    answer = parse_answer(text)
    if answer is None:
        return fallback(task, "the model's answer was not valid JSON of the expected form")
    choices, removed = check_answer(answer, task, shown)
    if answer.choices and not choices:
        return fallback(task, "the model chose no known candidate with evidence", removed)
    calibrated = ranker_confidence(task, choices)
    if calibrated is not None:
        choices = _grounded_first(task, choices)
    confidence = answer.confidence if calibrated is None else calibrated
    return Recommendation(
        choices=choices,
        # An abstention, or choices that cite nothing given or whose text failed the
        # sanity gate, cannot be confident.
        confidence=(
            confidence
            if any(c.grounded and not c.templated for c in choices)
            else min(confidence, UNGROUNDED_CONFIDENCE)
        ),
        fallback=False,
        removed_ids=removed,
        prompt_version=PROMPT_VERSION,
    )


def shown_words(task: ReasoningTask) -> set[str]:
    """The words of everything the model was shown: instructions, patient, candidates, evidence."""
    p = task.patient
    entities = [*p.conditions, *p.medications, *p.allergies]
    texts = [
        SYSTEM,
        LABELS,
        p.sex or "",
        *(e.label for e in entities),
        *(f"{c.name} {' '.join(c.classes)}" for c in task.candidates),
        *(f"{e.text} {e.citation or ''}" for e in task.evidence),
    ]
    return words(" ".join(texts))


def _ids_shown(
    drug: str, condition: str | None, task: ReasoningTask, cited: Collection[str]
) -> set[str]:
    """The ids a choice's rationale may name: its drug's, its condition's, its items'.

    An item's citation counts: a PMID or NCT id of a passage it was not given is made up.
    """
    texts = " ".join(f"{e.text} {e.citation or ''}" for e in task.evidence if e.id in cited)
    return {drug, *([condition] if condition else []), *entity_ids(texts)}
