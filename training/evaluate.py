"""Selection accuracy of a reasoning model on expRxRec-style tasks, gold masked.

The same visible tasks as trace collection (:func:`training.collect.visible_task`: the
task's gold drug-disease edges hidden from the graph), answered by the model as the
reasoning node answers; a task is correct when the first choice is the true indication.
This is the figure that compares the base model with a distilled adapter; the evaluation
harness builds on it.

Example:
    >>> report = evaluate_selection(read_tasks(path), sources)  # doctest: +SKIP
    >>> report.accuracy  # doctest: +SKIP
    0.41
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel
from training.collect import Sources, visible_task
from training.schema import Task


@dataclass
class SelectionReport:
    """Counts over the tasks (fractions are of all tasks)."""

    tasks: int = 0
    correct: int = 0
    fallback: int = 0
    ungrounded: int = 0
    abstained: int = 0
    seconds: float = 0.0
    chosen: dict[str, str | None] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Share of tasks whose first choice is the true indication."""
        return self.correct / self.tasks if self.tasks else 0.0

    def summary(self, name: str) -> str:
        """One line for the CLI."""
        n = max(self.tasks, 1)
        return (
            f"{name}: accuracy {self.accuracy:.3f} ({self.correct}/{self.tasks}); fallback "
            f"{self.fallback / n:.2f}, ungrounded {self.ungrounded / n:.2f}, abstained "
            f"{self.abstained / n:.2f}; {self.seconds / n:.2f} s/task"
        )


def evaluate_selection(
    tasks: Sequence[Task],
    sources: Sources,
    model: ReasoningModel | None = None,
    *,
    progress: bool = True,
) -> SelectionReport:
    """Answer each task with ``model`` (default: the sources' model) and count.

    A fallback answer (the model's output unusable) counts with the evidence ranking's
    choice, as the agent would show it, and is counted separately.
    """
    reasoner = Reasoner(model or sources.model)
    report = SelectionReport()
    started = time.perf_counter()
    for task in tqdm(tasks, desc="selection", unit="task", disable=not progress):
        visible, _ = visible_task(task, sources)
        rec = reasoner.recommend(visible)
        first = rec.choices[0] if rec.choices else None
        report.tasks += 1
        report.correct += bool(first and first.drug_id == task.positive)
        report.fallback += rec.fallback
        report.ungrounded += bool(first and not first.grounded)
        report.abstained += first is None
        report.chosen[task.task_id] = first.drug_id if first else None
    report.seconds = time.perf_counter() - started
    return report
