"""What a task set holds: the counts of a build and the summary ``kedrec train tasks`` prints.

:func:`summarize_tasks` counts tasks, diseases, negatives by kind and positives by source;
given the :class:`TaskList` of :func:`training.tasks.build.build_tasks`, it also reports
the build's counts (:class:`BuildStats`: diseases listed, skipped, left out...).

Example:
    >>> print(summarize_tasks(tasks))  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from training.tasks.schema import Task


@dataclass
class BuildStats:
    """Counts of one :func:`build_tasks` run that the tasks alone do not show."""

    diseases_listed: int = 0  # distinct concepts of the list (lines naming one concept count once)
    dropped_forbidden: int = 0
    skipped_no_positive: int = 0
    skipped_unnamed: int = 0
    dropped_no_negative: int = 0
    short_tasks: int = 0
    curated_conflicts: int = 0


class TaskList(list[Task]):
    """The tasks of :func:`build_tasks`, with the counts of the run in ``stats``."""

    def __init__(self, tasks: Iterable[Task] = (), stats: BuildStats | None = None) -> None:
        super().__init__(tasks)
        self.stats = stats


@dataclass
class TaskSummary:
    """What a task set holds; ``str()`` gives the CLI's report.

    Attributes:
        tasks: number of tasks.
        diseases_used: diseases with at least one task.
        negatives: negatives by kind (``curated``, ``hard``, ``random``).
        sources: positives by source.
        with_rationale: tasks with a DrugMechDB rationale.
        stats: the counts of the build (diseases listed and skipped...), when known.
    """

    tasks: int
    diseases_used: int
    negatives: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    with_rationale: int = 0
    stats: BuildStats | None = None

    def __str__(self) -> str:
        lines = []
        if self.stats is not None:
            lines.append(
                f"diseases: {self.stats.diseases_listed} listed, {self.diseases_used} used, "
                f"{self.stats.skipped_no_positive} skipped (no nameable positive)"
                + (f", {self.stats.skipped_unnamed} unnamed" if self.stats.skipped_unnamed else "")
                + (
                    f", {self.stats.dropped_forbidden} left out (in a forbidden list)"
                    if self.stats.dropped_forbidden
                    else ""
                )
            )
        else:
            lines.append(f"diseases used: {self.diseases_used}")
        lines.append(f"tasks: {self.tasks} ({self.with_rationale} with a DrugMechDB rationale)")
        if self.stats is not None and (self.stats.dropped_no_negative or self.stats.short_tasks):
            lines.append(
                f"tasks dropped (no negative): {self.stats.dropped_no_negative}; "
                f"with fewer negatives than asked: {self.stats.short_tasks}"
            )
        kinds = ", ".join(f"{k} {n}" for k, n in self.negatives.items()) or "none"
        lines.append(f"negatives: {kinds}")
        lines.append("positives: " + ", ".join(f"{s} {n}" for s, n in self.sources.items()))
        return "\n".join(lines)


def summarize_tasks(tasks: Sequence[Task]) -> TaskSummary:
    """Counts over a task set (with the build's counts when given a :class:`TaskList`)."""
    negatives: Counter[str] = Counter()
    for task in tasks:
        negatives.update(c.negative for c in task.candidates if c.negative != "positive")
    sources = Counter(task.source for task in tasks)
    return TaskSummary(
        tasks=len(tasks),
        diseases_used=len({task.disease for task in tasks}),
        negatives={k: negatives[k] for k in ("curated", "hard", "random") if negatives[k]},
        sources=dict(sources.most_common()),
        with_rationale=sum(task.rationale is not None for task in tasks),
        stats=tasks.stats if isinstance(tasks, TaskList) else None,
    )
