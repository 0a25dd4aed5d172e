"""Collect teacher traces: run the agent's tools on each task, gold masked, then the teacher.

For every task the knowledge graph is masked with the task's exclusions (the gold
drug-disease edges of the disease and all its DOID/MeSH equivalents, exactly as at
evaluation), the candidates' KG evidence and literature are gathered, and the reasoning
prompt is built as the reasoning node builds it (:func:`training.tasks.visible.
visible_task`). The teacher answers; answers that fail :func:`training.teacher.validate`
are counted and never written.

Traces are JSONL (:class:`training.tasks.schema.Trace`), appended as they come: an
interrupted run resumes where it stopped (tasks already in the file are skipped).

Example:
    >>> report = collect_traces(Path("tasks.jsonl"), Path("traces.jsonl"),
    ...                         EvidenceTeacher())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from kedrec_agent import __version__
from kedrec_agent.agent.evidence import EVIDENCE_VERSION
from kedrec_agent.config import get_settings
from kedrec_agent.errors import InvalidInputError, KedrecError
from kedrec_agent.kg.build import data_version
from kedrec_agent.reasoning.output import parse_answer
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX, PROMPT_VERSION
from kedrec_agent.reasoning.ranking import evidence_weights, support_weights
from kedrec_agent.reasoning.schema import ReasoningTask
from training.tasks.schema import Task, Trace
from training.tasks.visible import Sources, visible_task
from training.teacher import Teacher, answer_json, validate

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    """What a collection run did."""

    written: int = 0
    skipped_done: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line per figure, for the CLI."""
        lines = [f"traces written: {self.written}", f"already collected: {self.skipped_done}"]
        lines += [f"rejected ({why}): {n}" for why, n in self.rejected.most_common()]
        return "\n".join(lines)


def _canonical(text: str) -> str:
    """The answer re-serialised in the node's JSON form (first choice only)."""
    answer = parse_answer(text)
    assert answer is not None and answer.choices
    first = answer.choices[0]
    return answer_json(first.drug, first.rationale, first.evidence, answer.confidence)


NOT_FAVOURED = "the visible evidence favours another candidate"


def favoured(visible: ReasoningTask, drug: str) -> bool:
    """Whether the ranker's probabilities or the shown evidence put ``drug`` first (ties count).

    Either lets the student read the choice from its prompt: following the ranker, or
    departing from it where the cited evidence is stronger (the student should add what
    the ranker misses).
    """
    return any(
        weights.get(drug, 0.0) >= max(weights.values(), default=0.0)
        for weights in (evidence_weights(visible), support_weights(visible))
    )


def trace_for(
    task: Task,
    teacher: Teacher,
    sources: Sources,
    provenance: dict[str, str],
    *,
    consistent: bool = True,
) -> Trace | str:
    """The task's trace, or why the task or the teacher's answer was rejected.

    With ``consistent``, a task whose visible evidence favours another candidate than the
    true drug is rejected (:data:`NOT_FAVOURED`): the teacher, who knows the answer, would
    teach a choice the student cannot read from what it is shown.
    """
    visible, shown = visible_task(task, sources)
    if not any(task.positive in e.drugs for e in visible.evidence if e.id in shown):
        return "no visible evidence for the gold drug"
    if consistent and not favoured(visible, task.positive):
        return NOT_FAVOURED
    text = teacher.answer(task, visible, shown)
    problem = validate(text, task, visible, shown)
    if problem is not None:
        return problem
    answer = _canonical(text)
    cited = parse_answer(answer)
    assert cited is not None
    return Trace(
        task_id=task.task_id,
        positive=task.positive,
        reasoning_task=visible,
        completion=answer[len(ANSWER_PREFIX) :],
        evidence_ids=cited.choices[0].evidence,
        teacher=teacher.name,
        privileged=list(teacher.privileged),
        prompt_version=PROMPT_VERSION,
        provenance=provenance,
    )


def _done(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    done = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                done.add(json.loads(line)["task_id"])
            except (ValueError, KeyError, TypeError):
                raise InvalidInputError(f"{path}, line {number}: not a trace") from None
    return done


def collect_traces(
    tasks: Iterable[Task],
    out: Path,
    teacher: Teacher,
    sources: Sources,
    *,
    tasks_hash: str = "",
    consistent: bool = True,
    workers: int = 2,
    progress: bool = True,
) -> CollectReport:
    """Write a trace per task to ``out`` (appending; tasks already there are skipped).

    Args:
        tasks: the tasks (see :mod:`training.tasks.build`).
        out: the traces JSONL file.
        teacher: who writes the answers.
        sources: the graph, literature and model the evidence and prompt come from.
        tasks_hash: the tasks file's hash, recorded in each trace's provenance.
        consistent: keep only tasks whose visible evidence favours the true drug (see
            :func:`trace_for`); recorded in the provenance.
        workers: tasks in flight at once (store queries and a chat teacher overlap).
        progress: show a progress bar.
    """
    report = CollectReport()
    done = _done(out)
    todo = [t for t in tasks if t.task_id not in done]
    report.skipped_done = len(done)
    provenance = {
        "kedrec_agent": __version__,
        "data": data_version(get_settings()),
        "tasks": tasks_hash,
        "prompt": PROMPT_VERSION,
        "evidence": EVIDENCE_VERSION,
        "selection": "evidence-consistent" if consistent else "all",
        "ranker": "shown" if sources.ranker is not None else "none",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    def one(task: Task) -> None:
        try:
            result = trace_for(task, teacher, sources, provenance, consistent=consistent)
        except KedrecError as exc:
            result = f"tool error ({type(exc).__name__})"
        with lock:
            if isinstance(result, str):
                report.rejected[result] += 1
                return
            handle.write(result.model_dump_json() + "\n")
            handle.flush()
            report.written += 1

    with out.open("a") as handle, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        bar = tqdm(total=len(todo), desc="teacher traces", unit="task", disable=not progress)
        for _ in pool.map(one, todo):
            bar.update()
        bar.close()
    log.info("traces: %d written, %d rejected", report.written, sum(report.rejected.values()))
    return report
