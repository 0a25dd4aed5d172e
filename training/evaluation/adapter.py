"""Selection accuracy of a reasoning model on expRxRec-style tasks, gold masked.

The quick check behind ``kedrec eval adapter`` (base model vs a distilled adapter, the
figures that go into the adapter's model card). It is the harness's own code path (the
same masked evidence and evidence cache, :class:`~training.evaluation.methods.ModelMethod`
answering as the reasoning node does), reduced to the counts a model card needs;
``kedrec eval exprxrec`` gives every metric and baseline.

Example:
    >>> report = evaluate_selection(read_tasks(path), sources, limit=100)  # doctest: +SKIP
    >>> report.accuracy  # doctest: +SKIP
    0.41
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kedrec_agent.reasoning.backends import Backend
from kedrec_agent.reasoning.ranking import ranked_by_ranker
from kedrec_agent.reasoning.runtime import ReasoningModel
from kedrec_agent.reasoning.schema import ReasoningTask
from training.evaluation.exprxrec import cached_visible_tasks, subset
from training.evaluation.methods import ModelMethod, Prediction
from training.evaluation.metrics import rouge
from training.tasks.schema import Task
from training.tasks.visible import Sources


@dataclass
class SelectionReport:
    """Counts over the answered tasks (fractions are of those).

    ``unavailable`` counts the tasks left out because their evidence could not be gathered.
    Where the prompt shows the learned ranker's probabilities, ``ranker_correct`` counts
    the tasks its top candidate is right on, and ``departed`` those the model chose another
    candidate on: ``departed_right`` of them it was right, ``departed_ranker_right`` the ranker was.
    ``gate_failed`` counts rationales the gate replaced by a templated summary; ``rouge``
    sums ROUGE-1/2/L of the shown rationale against DrugMechDB's, over ``rouge_scored``
    tasks that have one.
    """

    tasks: int = 0
    unavailable: int = 0
    correct: int = 0
    fallback: int = 0
    ungrounded: int = 0
    abstained: int = 0
    seconds: float = 0.0
    ranked: int = 0
    ranker_correct: int = 0
    departed: int = 0
    departed_right: int = 0
    departed_ranker_right: int = 0
    gate_failed: int = 0
    rouge: dict[str, float] = field(default_factory=dict)
    rouge_scored: int = 0
    chosen: dict[str, str | None] = field(default_factory=dict)

    def add_rationale(self, task: Task, answer: Prediction) -> None:
        """Count a gate failure; score the shown rationale against DrugMechDB's, if any."""
        self.gate_failed += answer.templated
        if task.rationale and answer.rationale:
            for name, value in rouge(answer.rationale, task.rationale).items():
                self.rouge[name] = self.rouge.get(name, 0.0) + value
            self.rouge_scored += 1

    def add_departure(self, task: Task, visible: ReasoningTask, chosen: str | None) -> None:
        """Count the ranker's choice against the model's (tasks without probabilities: none)."""
        top = ranker_choice(visible)
        if top is None:
            return
        self.ranked += 1
        self.ranker_correct += top == task.positive
        if chosen is not None and chosen != top:
            self.departed += 1
            self.departed_right += chosen == task.positive
            self.departed_ranker_right += top == task.positive

    @property
    def accuracy(self) -> float:
        """Share of tasks whose first choice is the true indication."""
        return self.correct / self.tasks if self.tasks else 0.0

    def summary(self, name: str) -> str:
        """One line for the CLI."""
        n = max(self.tasks, 1)
        line = (
            f"{name}: accuracy {self.accuracy:.3f} ({self.correct}/{self.tasks}); fallback "
            f"{self.fallback / n:.2f}, ungrounded {self.ungrounded / n:.2f}, abstained "
            f"{self.abstained / n:.2f}; {self.seconds / n:.2f} s/task"
        )
        line += f"; gate failed {self.gate_failed}"
        if self.rouge_scored:
            means = self.rouge_means()
            line += (
                f"; ROUGE-1/L {100 * means['rouge1']:.1f} / {100 * means['rougeL']:.1f} over "
                f"{self.rouge_scored} DrugMechDB rationales"
            )
        if self.ranked:
            line += (
                f"; ranker {self.ranker_correct}/{self.ranked}, departed from it on "
                f"{self.departed} (right {self.departed_right}, ranker right "
                f"{self.departed_ranker_right})"
            )
        return line

    def rouge_means(self) -> dict[str, float]:
        """Mean ROUGE-1/2/L F-measures (0 to 1) over the scored rationales."""
        scored = max(self.rouge_scored, 1)
        return {name: total / scored for name, total in self.rouge.items()}

    def figures(self) -> dict[str, Any]:
        """The figures recorded in the adapter's model card (rounded)."""
        return {
            "accuracy": round(self.accuracy, 4),
            "tasks": self.tasks,
            "fallback": self.fallback,
            "ungrounded": self.ungrounded,
            "gate_failed": self.gate_failed,
            "seconds_per_task": round(self.seconds / max(self.tasks, 1), 3),
            **{k: round(v, 4) for k, v in self.rouge_means().items()},
            **({"rouge_scored": self.rouge_scored} if self.rouge_scored else {}),
            **(
                {
                    "ranker_accuracy": round(self.ranker_correct / self.ranked, 4),
                    "departed": self.departed,
                    "departed_right": self.departed_right,
                    "departed_ranker_right": self.departed_ranker_right,
                }
                if self.ranked
                else {}
            ),
        }


def ranker_choice(visible: ReasoningTask) -> str | None:
    """The candidate with the ranker's highest probability (``None``: no probabilities)."""
    if not ranked_by_ranker(visible):
        return None
    return max(visible.candidates, key=lambda c: c.probability or 0.0).id


def evaluate_selection(
    tasks: Sequence[Task],
    sources: Sources,
    model: ReasoningModel | Backend | None = None,
    *,
    constrained: bool = True,
    limit: int | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    data: str = "",
    progress: bool = True,
) -> SelectionReport:
    """Answer a seeded subset of the tasks with ``model`` (default: the sources' model).

    ``model`` may also be another reasoning backend (an OpenAI-compatible server);
    ``constrained=False`` lets the local model write unconstrained (for comparison).

    The subset is the harness's (:func:`~training.evaluation.exprxrec.subset` of the tasks
    whose evidence could be gathered, with the same ``seed``), and ``cache_dir``/``data``
    share its evidence cache, so the figures are those of ``kedrec eval exprxrec --limit``
    for the same tasks. A fallback answer (the model's output unusable) counts with the
    evidence ranking's choice, as the agent would show it, and is counted separately.
    """
    method = ModelMethod("model", model or sources.model, constrained=constrained)
    visible = cached_visible_tasks(
        tasks, sources, cache_dir, data=data, workers=1, progress=progress
    )
    usable = [t for t in tasks if t.task_id in visible]  # a store error is logged
    report = SelectionReport(unavailable=len(tasks) - len(usable))
    started = time.perf_counter()
    for task in tqdm(subset(usable, limit, seed), desc="selection", unit="task",
                     disable=not progress):  # fmt: skip
        answer = method.predict(task, visible[task.task_id])
        report.tasks += 1
        report.correct += answer.chosen == task.positive
        report.fallback += answer.fallback
        report.ungrounded += (
            answer.chosen is not None and not answer.grounded and not answer.fallback
        )
        report.abstained += answer.chosen is None
        report.chosen[task.task_id] = answer.chosen
        report.add_rationale(task, answer)
        report.add_departure(task, visible[task.task_id], answer.chosen)
    report.seconds = time.perf_counter() - started
    return report
