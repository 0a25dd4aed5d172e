"""Teachers: write the answer the student should learn, from the visible evidence + gold.

A teacher sees what the student will see (the reasoning task, with the evidence the
prompt shows) and one privileged fact: which candidate is the true drug. The gold decides
which drug is chosen, never which facts are stated: a rationale states only shown items
(DrugMechDB's curated mechanism is the reference the student's rationale is scored
against, not something the student could read). Each teacher says what it knew
(``privileged``, recorded in every trace). It returns an answer in the reasoning node's
JSON form; every answer is checked by the same parser, id checks and rationale gate as
the model's (:func:`validate`), and an answer that does not choose the gold drug first,
cites evidence that was not shown or fails the gate is rejected, never trained on.

* :class:`EvidenceTeacher` (the offline default) is rule-based: the gold drug's shown
  items in DrugMechDB's order (how it acts on a gene and how the gene relates to the
  disease, what it is listed for, its class, related indications, a passage), each cited
  by id, within the length the student can write, then why the runner-up is weaker.
  Faithful by construction, not clever.
* :class:`ChatTeacher` asks any LangChain chat model (a hosted LLM, a local large model)
  with the same visible prompt plus the gold drug, in the prompt of
  :data:`TEACHER_SYSTEM`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from kedrec_agent.reasoning.constrained import MAX_RATIONALE_CHARS
from kedrec_agent.reasoning.gate import one_per_topic, without_provenance
from kedrec_agent.reasoning.output import recommendation_from_text
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX
from kedrec_agent.reasoning.ranking import support_weights
from kedrec_agent.reasoning.schema import Evidence, ReasoningTask
from training.tasks.schema import Task

MAX_CITED = 3

TEACHER_SYSTEM = (
    "You are an expert clinical pharmacologist writing a model answer for a student. You "
    "are told which candidate is correct. Write the answer JSON the student should "
    "produce: choose the correct drug and explain it from the listed evidence only: how it "
    "acts (drug -> its action on a gene -> the disease), what it is listed for, its class, "
    "then one short sentence on why the best other candidate is weaker. State no fact that "
    "is not in the listed evidence; cite the ids (in square brackets) and list them; at "
    f"most {MAX_RATIONALE_CHARS} characters. Reply with JSON only: "
    '{"choices": [{"drug": "<id>", "rationale": "<text>", "evidence": ["E1", ...]}], '
    '"confidence": <0 to 1>}'
)


class Teacher(Protocol):
    """Anything that answers a task (see the module docstring)."""

    name: str
    privileged: tuple[str, ...]
    """What it knows that the student is not shown (``drug``: which candidate is right)."""

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
    (at least one item), nothing removed by the id checks, a rationale that passes the
    reasoning node's gate (it would otherwise be replaced by a templated summary).
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
    if rec.choices[0].templated:
        return "the rationale fails the gate"
    return None


TOPIC_ORDER = ("mechanism", "indication", "class", "related", "literature")
"""The order a rationale states the gold drug's shown items in: how it acts first
(DrugMechDB's drug -> action on a gene -> disease), then what it is listed for, its class,
its related indications, a passage."""


def _clause(item: Evidence, about: str, limit: int | None = None) -> str:
    """An item's text as a sentence citing it: relation names and path scores dropped.

    A passage is cited by its reference, not quoted ("``about`` is reported in PMID:1");
    ``limit`` cuts a longer text at a word.
    """
    text = without_provenance(" ".join(item.text.split()))
    if item.kind == "literature":
        text = f"{about} is reported in {item.citation or 'a study'}"
    text = text.rstrip(".")
    if limit is not None and len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return f"{text} [{item.id}]."


def _weaker(runner: str, disease: str, gold: set[str], its: set[str]) -> str:
    """Why the runner-up is weaker, from the topics of the shown items about each."""
    if "indication" in gold and "indication" not in its:
        return f"{runner} is weaker: it is not listed for {disease}."
    if "mechanism" in gold and "mechanism" not in its:
        return f"{runner} is weaker: no gene links it to {disease}."
    if not its:
        return f"{runner} is weaker: nothing shown supports it."
    return f"{runner} is weaker: less of the shown evidence supports it."


class EvidenceTeacher:
    """The offline default teacher (rule-based; see the module docstring)."""

    name = "evidence-teacher/2"
    privileged: tuple[str, ...] = ("drug",)

    def answer(self, task: Task, visible: ReasoningTask, shown: list[str]) -> str:
        """Explain the gold drug from the shown items about it, and why the runner-up is weaker.

        One item per topic in :data:`TOPIC_ORDER`, while the rationale stays within the
        answer schema's :data:`~kedrec_agent.reasoning.constrained.MAX_RATIONALE_CHARS`
        (what the student can write); then a sentence on the best-supported other
        candidate if it fits. Only shown items are stated: the gold decides which drug,
        never which facts.
        """
        seen = set(shown)

        def items_of(drug: str) -> list[Evidence]:
            found = (e for e in visible.evidence if e.id in seen and drug in e.drugs)
            return sorted(found, key=lambda e: -e.priority)

        mine = items_of(task.positive)
        picked = one_per_topic(mine, TOPIC_ORDER, MAX_CITED, topic_of=_topic)
        drug = next(c.name for c in visible.candidates if c.id == task.positive)
        about = f"{drug} for {task.disease_name}"
        clauses: list[str] = []
        for item in picked:
            if len(" ".join([*clauses, _clause(item, about)])) <= MAX_RATIONALE_CHARS:
                clauses.append(_clause(item, about))
        if not clauses and picked:  # one long item: cut, never dropped
            clauses = [_clause(picked[0], about, limit=MAX_RATIONALE_CHARS - 12)]
        cited = [i for i in (e.id for e in picked) if f"[{i}]" in " ".join(clauses)]
        weights = support_weights(visible)  # the sentence is about the shown evidence
        others = [c for c in visible.candidates if c.id != task.positive]
        if others:
            runner = max(others, key=lambda c: weights.get(c.id, 0.0))
            if weights.get(runner.id, 0.0) >= weights.get(task.positive, 0.0):
                others = []  # the shown evidence does not say it is weaker: say nothing
        if others:
            sentence = _weaker(
                runner.name,
                task.disease_name,
                {_topic(e) for e in mine},
                {_topic(e) for e in items_of(runner.id)},
            )
            if len(" ".join([*clauses, sentence])) <= MAX_RATIONALE_CHARS:
                clauses.append(sentence)
        if clauses and not _names(" ".join(clauses), drug):  # the graph's label differs
            clauses[0] = f"{drug}: {clauses[0]}"
        topics = {_topic(e) for e in picked}
        confidence = 0.9 if topics & {"indication", "mechanism"} else 0.7 if picked else 0.3
        return answer_json(task.positive, " ".join(clauses), cited, confidence)


def _names(text: str, drug: str) -> bool:
    return drug.lower() in text.lower()


def _topic(item: Evidence) -> str:
    """The item's topic (``literature`` for a passage; ``kg`` items of old traces: ``kg``)."""
    return item.topic or ("literature" if item.kind == "literature" else "kg")


class ChatTeacher:
    """A LangChain chat model as the teacher.

    Args:
        model: any ``BaseChatModel`` (e.g. from ``init_chat_model("provider:model")``).
        name: recorded in each trace's provenance.
    """

    privileged: tuple[str, ...] = ("drug",)

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
        user = (
            f"Disease: {task.disease_name}.\nCandidates:\n{candidates}\n\nEvidence:\n"
            f"{items or '(none)'}\n\n{gold}"
        )
        reply = self.model.invoke([("system", TEACHER_SYSTEM), ("user", user)])
        text = str(getattr(reply, "content", reply)).strip()
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
        return text
