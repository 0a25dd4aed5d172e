"""The reasoning prompt, versioned, with evidence budgeted to fit the model's context.

Every change to the wording bumps :data:`PROMPT_VERSION`; traces and adapters record it, so
an adapter is never silently used with a prompt it was not trained on.

Example:
    >>> messages, kept = build_messages(task, count_tokens=lambda s: len(s.split()),
    ...                                 budget=400)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

from kedrec_agent.reasoning.schema import Evidence, ReasoningTask

PROMPT_VERSION = "reason-v1"

SYSTEM = (
    "You are a clinical pharmacology assistant supporting a clinician. Choose the best drug "
    "or drugs for the patient among the candidates, using only the evidence listed. Cite "
    "evidence by its id. Reply with JSON only, in this form: "
    '{"choices": [{"drug": "<candidate id>", "rationale": "<one or two sentences citing '
    'evidence ids>", "evidence": ["<evidence id>", ...]}], "confidence": <0 to 1>}'
)

ANSWER_PREFIX = '{"choices": [{"drug": "'
"""The start of every answer: generation continues from here (and scoring scores it)."""

MAX_ITEM_TOKENS = 90
"""A single evidence item is cut to about this many tokens."""


def _patient(task: ReasoningTask) -> str:
    p = task.patient
    who = " ".join(x for x in (f"{p.age}-year-old" if p.age else "", p.sex or "") if x)
    lines = [f"Patient: {who or 'adult'}."]
    lines.append(f"Conditions: {'; '.join(p.conditions) or 'none recorded'}.")
    lines.append(f"Current medications: {'; '.join(p.medications) or 'none recorded'}.")
    lines.append(f"Allergies: {'; '.join(p.allergies) or 'none recorded'}.")
    return "\n".join(lines)


def _candidates(task: ReasoningTask) -> str:
    return "\n".join(f"- {c.id}: {c.name}" for c in task.candidates)


def _item(evidence: Evidence, count_tokens: Callable[[str], int]) -> str:
    source = evidence.citation or ("knowledge graph" if evidence.kind == "kg" else "literature")
    text = " ".join(evidence.text.split())
    while count_tokens(text) > MAX_ITEM_TOKENS and " " in text:
        text = text[: int(len(text) * 0.8)].rsplit(" ", 1)[0] + " …"
    return f"[{evidence.id}] ({source}) {text}"


def select_evidence(
    task: ReasoningTask, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[str, str]]:
    """Evidence lines that fit ``budget`` tokens.

    Each candidate's best item comes before any candidate's second (so every candidate is
    heard), and within a round the highest priority first.

    Returns:
        (evidence id, line) pairs in prompt order.
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
    kept: list[tuple[str, str]] = []
    used = 0
    for item in order:
        line = _item(item, count_tokens)
        cost = count_tokens(line) + 1
        if used + cost > budget:
            continue  # a shorter item further down may still fit
        kept.append((item.id, line))
        used += cost
    return kept


def build_messages(
    task: ReasoningTask, count_tokens: Callable[[str], int], budget: int
) -> tuple[list[dict[str, str]], list[str]]:
    """Chat messages for ``task`` whose user turn fits ``budget`` tokens.

    Args:
        task: patient, candidates and evidence.
        count_tokens: the model tokenizer's token count of a string.
        budget: tokens available for the system and user turns (context window minus the
            answer's tokens and the chat template's overhead).

    Returns:
        ``[system, user]`` messages and the ids of the evidence items they show.
    """
    head = f"{_patient(task)}\n\nCandidates:\n{_candidates(task)}\n\nEvidence:\n"
    tail = (
        f"\n\nChoose up to {task.max_choices} of the candidates, best first, by their ids. "
        "If the evidence does not support any, choose none and give a low confidence."
    )
    fixed = count_tokens(SYSTEM) + count_tokens(head) + count_tokens(tail)
    kept = select_evidence(task, count_tokens, max(0, budget - fixed))
    user = head + ("\n".join(line for _, line in kept) or "(no evidence found)") + tail
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    return messages, [evidence_id for evidence_id, _ in kept]
