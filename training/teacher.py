"""Teachers: write the answer the student should learn, from the visible evidence + gold.

A teacher sees what the student will see (the reasoning task, with the evidence the
prompt shows) and privileged gold: the true drug and, where DrugMechDB has one, its
curated mechanism. It returns an answer in the reasoning node's JSON form; every answer
is checked by the same parser and id checks as the model's (:func:`validate`), and an
answer that does not choose the gold drug first or cites evidence that was not shown is
rejected, never trained on.

* :class:`EvidenceTeacher` (the offline default) is rule-based: it composes the gold
  mechanism (DrugMechDB ``rationale_text``) and the shown evidence about the gold drug
  (KG paths, literature citations) into a one- or two-sentence rationale citing their ids.
  It is faithful by construction, not clever: it knows the answer.
* :class:`ChatTeacher` asks any LangChain chat model (a hosted LLM, a local large model)
  with the same visible prompt plus the gold, in the prompt of :data:`TEACHER_SYSTEM`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from kedrec_agent.reasoning.output import recommendation_from_text
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX
from kedrec_agent.reasoning.schema import Evidence, ReasoningTask
from training.tasks.schema import Task

MAX_CITED = 3

TEACHER_SYSTEM = (
    "You are an expert clinical pharmacologist writing a model answer for a student. You "
    "are told which candidate is correct and, when known, its mechanism of action. Write "
    "the answer JSON the student should produce: choose the correct drug, give one or two "
    "sentences of rationale that cite only the evidence ids listed (in square brackets), "
    "and list those ids. Reply with JSON only: "
    '{"choices": [{"drug": "<id>", "rationale": "<text>", "evidence": ["E1", ...]}], '
    '"confidence": <0 to 1>}'
)


class Teacher(Protocol):
    """Anything that answers a task (see the module docstring)."""

    name: str

    def answer(self, task: Task, visible: ReasoningTask, shown: list[str]) -> str:
        """The full answer JSON text (starting with the answer prefix)."""
        ...


def answer_json(drug: str, rationale: str, evidence: list[str], confidence: float) -> str:
    """An answer in the reasoning node's JSON form (it starts with ``ANSWER_PREFIX``)."""
    text = json.dumps(
        {
            "choices": [{"drug": drug, "rationale": rationale, "evidence": evidence}],
            "confidence": round(confidence, 2),
        },
        ensure_ascii=False,
    )
    assert text.startswith(ANSWER_PREFIX)
    return text


def validate(text: str, task: Task, visible: ReasoningTask, shown: list[str]) -> str | None:
    """Why the answer is unusable as a training target, or None when it is good.

    Good: valid JSON of the expected form, the gold drug first, citing only shown evidence
    (at least one item), nothing removed by the id checks.
    """
    rec = recommendation_from_text(text, visible, set(shown))
    if rec.fallback:
        return rec.problem or "unusable answer"
    if not rec.choices or rec.choices[0].drug_id != task.positive:
        return "the answer does not choose the gold drug first"
    if rec.removed_ids:
        return f"the answer cites {rec.removed_ids} id(s) that were not shown"
    if not rec.choices[0].grounded:
        return "the answer cites no shown evidence"
    return None


MECHANISM_STEPS = 3
"""At most this many steps of a DrugMechDB path go into a rationale (answers stay short)."""


def _kg_clause(item: Evidence) -> str:
    text = re.sub(r"\s*\((?:path score [\d.]+|[A-Za-z]+::[^)]*)\)", "", " ".join(item.text.split()))
    return f"{text.rstrip('.')} [{item.id}]"


class EvidenceTeacher:
    """The offline default teacher (rule-based; see the module docstring)."""

    name = "evidence-teacher/1"

    def answer(self, task: Task, visible: ReasoningTask, shown: list[str]) -> str:
        """Compose the answer for ``task`` from its gold and the shown evidence."""
        items = sorted(
            (e for e in visible.evidence if e.id in set(shown) and task.positive in e.drugs),
            key=lambda e: -e.priority,
        )[:MAX_CITED]
        drug = next(c.name for c in visible.candidates if c.id == task.positive)
        if task.rationale:
            steps = [s.strip() for s in task.rationale.rstrip(".").split(";") if s.strip()]
            first = f"{drug}: {'; '.join(steps[:MECHANISM_STEPS])}."
        else:
            first = f"{drug} is the best-supported candidate for {task.disease_name}."
        kg = [_kg_clause(e) for e in items if e.kind == "kg"]
        papers = [f"{e.citation or 'a study'} [{e.id}]" for e in items if e.kind == "literature"]
        support = "; ".join(kg + ([f"reported in {', '.join(papers)}"] if papers else []))
        rationale = f"{first} {support[:1].upper()}{support[1:]}." if support else first
        confidence = 0.9 if kg else 0.7 if papers else 0.3
        return answer_json(task.positive, rationale, [e.id for e in items], confidence)


class ChatTeacher:
    """A LangChain chat model as the teacher.

    Args:
        model: any ``BaseChatModel`` (e.g. from ``init_chat_model("provider:model")``).
        name: recorded in each trace's provenance.
    """

    def __init__(self, model: Any, name: str | None = None) -> None:
        self.model = model
        self.name = name or f"chat:{getattr(model, 'model_name', type(model).__name__)}"

    def answer(self, task: Task, visible: ReasoningTask, shown: list[str]) -> str:
        """Ask the chat model; its reply is parsed by :func:`validate` afterwards."""
        items = "\n".join(
            f"[{e.id}] ({e.citation or e.kind}) {' '.join(e.text.split())}"
            for e in visible.evidence
            if e.id in set(shown)
        )
        candidates = "\n".join(f"- {c.id}: {c.name}" for c in visible.candidates)
        gold = f"Correct answer: {task.positive}."
        if task.rationale:
            gold += f" Mechanism: {task.rationale}"
        user = (
            f"Disease: {task.disease_name}.\nCandidates:\n{candidates}\n\nEvidence:\n"
            f"{items or '(none)'}\n\n{gold}"
        )
        reply = self.model.invoke([("system", TEACHER_SYSTEM), ("user", user)])
        text = str(getattr(reply, "content", reply)).strip()
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
        return text
