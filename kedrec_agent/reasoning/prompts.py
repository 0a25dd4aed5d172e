"""The reasoning prompt, versioned, with evidence budgeted to fit the model's context.

Every change to the wording bumps :data:`PROMPT_VERSION`; traces and adapters record it, so
an adapter is never silently used with a prompt it was not trained on.

Example:
    >>> messages, kept = build_messages(task, count_tokens=lambda s: len(s.split()),
    ...                                 budget=400)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

from kedrec_agent.reasoning.ranking import ranked_candidates
from kedrec_agent.reasoning.schema import Candidate, EntityRef, Evidence, ReasoningTask

PROMPT_VERSION = "reason-v3"
"""v3: with the learned ranker, each candidate line shows its probability and the
candidates are listed by it (a task without probabilities reads as in v2)."""

SYSTEM = (
    "You are a clinical pharmacology assistant supporting a clinician. Choose the best drug "
    "or drugs for the patient among the candidates, using only the evidence listed. Cite "
    "evidence by its id. Reply with JSON only, in this form: "
    '{"choices": [{"drug": "<candidate id>", "rationale": "<one or two sentences citing '
    'evidence ids>", "evidence": ["<evidence id>", ...]}], "confidence": <0 to 1>}'
)

LABELS = (
    "Patient adult year old Conditions Current medications Allergies none recorded "
    "Candidates ranker no evidence Evidence knowledge graph literature"
)
"""The fixed words of the user turn (the gate lets a rationale name them)."""

ANSWER_PREFIX = '{"choices": [{"drug": "'
"""The start of every answer: generation continues from here (and scoring scores it)."""

MAX_ITEM_TOKENS = 90
"""A single evidence item is cut to about this many tokens."""


def _patient(task: ReasoningTask) -> str:
    p = task.patient
    who = " ".join(x for x in (f"{p.age}-year-old" if p.age else "", p.sex or "") if x)

    def listed(entities: list[EntityRef]) -> str:
        return "; ".join(e.label for e in entities) or "none recorded"

    lines = [f"Patient: {who or 'adult'}."]
    lines.append(f"Conditions: {listed(p.conditions)}.")
    lines.append(f"Current medications: {listed(p.medications)}.")
    lines.append(f"Allergies: {listed(p.allergies)}.")
    return "\n".join(lines)


def _candidates(ranked: list[Candidate], shown: list[Evidence]) -> str:
    """One line per candidate, in ``ranked`` order, with the ids of its shown items."""
    lines = []
    for c in ranked:
        ids = [e.id for e in shown if c.id in e.drugs]
        cited = "evidence " + ", ".join(ids) if ids else "no evidence"
        ranker = f"ranker {c.probability:.2f}, " if c.probability is not None else ""
        lines.append(f"- {c.id}: {c.name} — {ranker}{cited}")
    return "\n".join(lines)


def _item(evidence: Evidence, count_tokens: Callable[[str], int]) -> str:
    source = evidence.citation or ("knowledge graph" if evidence.kind == "kg" else "literature")
    text = " ".join(evidence.text.split())
    while count_tokens(text) > MAX_ITEM_TOKENS and " " in text:
        text = text[: int(len(text) * 0.8)].rsplit(" ", 1)[0] + " …"
    return f"[{evidence.id}] ({', '.join([*evidence.drugs, source])}) {text}"


def select_evidence(
    task: ReasoningTask, count_tokens: Callable[[str], int], budget: int
) -> list[Evidence]:
    """Evidence items whose lines fit ``budget`` tokens.

    Each candidate's best item comes before any candidate's second (so every candidate is
    heard), and within a round the highest priority first.

    Returns:
        The kept items, in the order they were chosen.
    """
    by_drug: dict[str, list[Evidence]] = {}
    for item in sorted(task.evidence, key=lambda e: -e.priority):
        by_drug.setdefault(item.drugs[0] if item.drugs else "", []).append(item)
    order: list[Evidence] = []
    depth = 0
    while any(len(items) > depth for items in by_drug.values()):
        level = [items[depth] for items in by_drug.values() if len(items) > depth]
        order += sorted(level, key=lambda e: -e.priority)
        depth += 1
    kept: list[Evidence] = []
    used = 0
    for item in order:
        cost = count_tokens(_item(item, count_tokens)) + 1
        if used + cost > budget:
            continue  # a shorter item further down may still fit
        kept.append(item)
        used += cost
    return kept


def _by_candidate(ranked: list[Candidate], kept: list[Evidence]) -> list[Evidence]:
    """``kept`` grouped by candidate in ``ranked`` order, each by priority."""
    rank = {c.id: i for i, c in enumerate(ranked)}
    return sorted(
        kept,
        key=lambda e: (
            min((rank.get(d, len(rank)) for d in e.drugs), default=len(rank)),
            -e.priority,
        ),
    )


def build_messages(
    task: ReasoningTask, count_tokens: Callable[[str], int], budget: int
) -> tuple[list[dict[str, str]], list[str]]:
    """Chat messages for ``task`` whose user turn fits ``budget`` tokens.

    Candidates are listed strongest evidence first (:mod:`kedrec_agent.reasoning.ranking`),
    each with the ids of its shown evidence; every evidence line names the candidates it
    concerns, so the choice and its citations can be read off the prompt.

    Args:
        task: patient, candidates and evidence.
        count_tokens: the model tokenizer's token count of a string.
        budget: tokens available for the system and user turns (context window minus the
            answer's tokens and the chat template's overhead).

    Returns:
        ``[system, user]`` messages and the ids of the evidence items they show.
    """
    ranker = all(c.probability is not None for c in task.candidates)
    order = (
        "by the ranker's probability that each is the right choice; choose a lower one only "
        "if the evidence you cite supports it better"
        if ranker
        else "strongest evidence first"
    )
    tail = (
        f"\n\nCandidates are listed {order}. Choose up to "
        f"{task.max_choices} of them, best first, by their ids. If the evidence does not "
        "support any, choose none and give a low confidence."
    )

    ranked = ranked_candidates(task)

    def head(shown: list[Evidence]) -> str:
        return f"{_patient(task)}\n\nCandidates:\n{_candidates(ranked, shown)}\n\nEvidence:\n"

    # Candidate lines naming every item's id bound those naming only the kept items' ids.
    fixed = count_tokens(SYSTEM) + count_tokens(head(task.evidence)) + count_tokens(tail)
    kept = _by_candidate(ranked, select_evidence(task, count_tokens, max(0, budget - fixed)))
    lines = "\n".join(_item(item, count_tokens) for item in kept)
    user = head(kept) + (lines or "(no evidence found)") + tail
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    return messages, [item.id for item in kept]
