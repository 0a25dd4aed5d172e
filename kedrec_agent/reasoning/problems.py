"""Problem-oriented reasoning: one answer per condition, merged into one recommendation.

A patient with several conditions gets options for each: the task is split by condition
(each sub-task has that condition's candidates and their evidence, renumbered from E1, as
the model was trained on single-disease tasks), answered on its own, and the choices are
tagged with their condition and mapped back to the whole task's evidence ids. The
conditions are answered in turn, and a candidate's interaction with a drug already chosen
for another condition (major, moderate or of unknown severity) counts as one with a current
medication (it goes behind a similarly supported alternative, or a same-class one), so the
options for a patient's problems can be taken together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from langchain_core.runnables.config import ContextThreadPoolExecutor

from kedrec_agent.reasoning.output import with_alternatives
from kedrec_agent.reasoning.ranking import ranked_candidates
from kedrec_agent.reasoning.schema import Candidate, Choice, ReasoningTask, Recommendation

Interacting = Callable[[Sequence[str], Sequence[str]], dict[str, str]]
"""``(candidate ids, chosen ids) -> {candidate: worst interaction with a chosen drug}``."""

_EVIDENCE_ID = re.compile(r"\bE(\d+)\b")


def conditions_of(task: ReasoningTask) -> list[str]:
    """The conditions the task's candidates are proposed for, in candidate order."""
    return list(dict.fromkeys(c.condition for c in task.candidates if c.condition))


def _mapped(choice: Choice, back: dict[str, str], condition: str) -> Choice:
    rationale = _EVIDENCE_ID.sub(lambda m: back.get(m.group(0), m.group(0)), choice.rationale)
    return choice.model_copy(
        update={
            "evidence_ids": [back[i] for i in choice.evidence_ids if i in back],
            "rationale": rationale,
            "condition": condition,
        }
    )


RANK = {"major": 3, "moderate": 2, "unknown": 1}
"""Interaction levels with a chosen drug that are marked, by severity (minor is not)."""


def _marked(candidate: Candidate, level: str | None) -> Candidate:
    """``candidate`` with a major, moderate or unknown ``level`` (with a chosen drug) if worse."""
    if RANK.get(level or "", 0) > RANK.get(candidate.interaction or "", 0):
        return candidate.model_copy(update={"interaction": level})
    return candidate


def _avoiding(sub: ReasoningTask, chosen: list[str], interacting: Interacting) -> ReasoningTask:
    """``sub`` with its candidates' interactions with chosen drugs marked (not minor ones).

    They are then ranked as with a current medication
    (:func:`~kedrec_agent.reasoning.ranking.ranked_candidates`): a major one behind a
    similarly supported alternative, a moderate one or one of unknown severity behind a
    same-class alternative with a lesser one.
    """
    if not chosen:
        return sub
    levels = interacting([c.id for c in sub.candidates], chosen)
    candidates = [_marked(c, levels.get(c.id)) for c in sub.candidates]
    return sub.model_copy(update={"candidates": candidates})


def _same_prompt(asked: ReasoningTask, sub: ReasoningTask) -> bool:
    """Whether marking interactions left the model's prompt as it was: the candidates' order.

    The interactions themselves are not shown to the model; only the order they change is.
    """
    return asked == sub or [c.id for c in ranked_candidates(asked)] == [
        c.id for c in ranked_candidates(sub)
    ]


def recommend_per_condition(
    task: ReasoningTask,
    answer: Callable[[ReasoningTask], Recommendation],
    interacting: Interacting | None = None,
    *,
    concurrent: bool = False,
) -> Recommendation:
    """``answer`` applied to each condition's sub-task in turn, with its alternatives, merged.

    Each condition's options are its answer's choices and then similarly supported, safe
    alternatives (:func:`~kedrec_agent.reasoning.output.with_alternatives`).

    With ``interacting``, a later condition's candidate with a major or moderate interaction
    with a drug chosen for an earlier one is ranked like one with that interaction with a
    current medication (see :func:`_avoiding`).

    With ``concurrent``, every condition's sub-task is asked at once (the local backend
    decodes them in one batch, a server in parallel slots); a sub-task whose candidates the
    choices for earlier conditions reorder (an interaction to mark) is asked again, in turn.
    The result is the same as asking in turn.

    The merged confidence is the lowest of the conditions' (the answer is only as sure as
    its weakest part); it is a fallback when any part is, with each part's problem. A task
    whose candidates carry no condition is answered whole.
    """
    conditions = conditions_of(task)
    if not conditions:
        return with_alternatives(task, answer(task))
    subs = [task.for_condition(condition) for condition in conditions]
    with ContextThreadPoolExecutor(max_workers=len(subs)) as pool:
        early = [pool.submit(answer, sub) for sub, _ in subs] if concurrent else []
        answers: list[tuple[str, dict[str, str], Recommendation]] = []
        chosen: list[str] = []
        for i, (condition, (sub, back)) in enumerate(zip(conditions, subs, strict=True)):
            asked = sub if interacting is None else _avoiding(sub, chosen, interacting)
            raw = early[i].result() if early and _same_prompt(asked, sub) else answer(asked)
            result = with_alternatives(asked, raw)
            # the leading option is taken even when it is an alternative put before a choice
            chosen += [
                c.drug_id for i, c in enumerate(result.choices) if not i or not c.alternative
            ]
            answers.append((condition, back, result))
    problems = [r.problem for _, _, r in answers if r.problem]
    return Recommendation(
        choices=[_mapped(c, back, cond) for cond, back, r in answers for c in r.choices],
        confidence=min(r.confidence for _, _, r in answers),
        fallback=any(r.fallback for _, _, r in answers),
        removed_ids=sum(r.removed_ids for _, _, r in answers),
        prompt_version=answers[0][2].prompt_version,
        problem="; ".join(problems) or None,
    )
