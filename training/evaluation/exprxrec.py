"""expRxRec-style selection: one true indication among hard negatives, gold masked.

Tasks come from :func:`training.tasks.build.build_tasks` (any disease list with indication
and rationale files in the bundle's formats), so that the dev split and an independent
held-out split are evaluated by the same code. Each task's visible evidence is gathered
once (:func:`training.tasks.visible.visible_task`: every indication edge of the disease,
over all its DOID/MeSH equivalents, masked from the KG view through the exclusion set) and
cached on disk; every method then answers from that same evidence.

Example:
    >>> tasks = build_tasks(diseases, indications, rationales, drop_forbidden=True)
    ... # doctest: +SKIP
    >>> visible = cached_visible_tasks(tasks, sources, cache_dir)  # doctest: +SKIP
    >>> result = run_selection(tasks, visible, [KGPathMethod()])  # doctest: +SKIP
    >>> result["kg-path"]["metrics"]["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kedrec_agent import __version__
from kedrec_agent.agent.evidence import EVIDENCE_VERSION
from kedrec_agent.errors import ConfigError, InvalidInputError, KedrecError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.reasoning.schema import ReasoningTask
from training.evaluation.methods import Method, Prediction, RankerMethod
from training.evaluation.metrics import (
    Outcome,
    calibration,
    citation_metrics,
    latency,
    mean,
    rouge,
    selection_metrics,
)
from training.evaluation.suite import Harness
from training.ranker_data import EvidenceCache, EvidenceSources
from training.tasks.schema import Task
from training.tasks.visible import Sources, visible_task

log = logging.getLogger(__name__)


def lineage_masked(tasks: Sequence[Task], kg: KnowledgeGraph) -> list[Task]:
    """The tasks with a stricter masking, a sensitivity check of the default one.

    Each task also hides every candidate's indication edges to the disease's MeSH ancestors
    and descendants (:meth:`~kedrec_agent.kg.hierarchy.DiseaseHierarchy.lineage`), so no
    related-indication evidence comes from a broader or narrower heading of the disease.
    """
    masked = []
    for task in tasks:
        lineage = sorted(kg.hierarchy.lineage(kg.equivalences.concept(task.disease).equivalents))
        extra = [(c.id, disease) for c in task.candidates for disease in lineage]
        masked.append(task.model_copy(update={"exclusions": [*task.exclusions, *extra]}))
    return masked


def tasks_digest(tasks: Sequence[Task]) -> str:
    """sha256 (hex) of the tasks' JSON, in order: what the evidence cache is keyed by."""
    digest = hashlib.sha256()
    for task in tasks:
        digest.update(task.model_dump_json().encode())
    return digest.hexdigest()


def subset(tasks: Sequence[Task], limit: int | None, seed: int = 0) -> list[Task]:
    """A seeded sample of ``limit`` tasks in their original order (all when ``None``)."""
    if limit is None or limit >= len(tasks):
        return list(tasks)
    picked = sorted(random.Random(seed).sample(range(len(tasks)), limit))
    return [tasks[i] for i in picked]


def _cache_key(tasks: Sequence[Task], sources: Sources, data: str) -> str:
    key = {
        "tasks": tasks_digest(tasks),
        "data": data,
        "literature": sources.literature is not None,
        "literature_k": sources.literature_k,
        "paths_per_drug": sources.paths_per_drug,
        "kedrec_agent": __version__,
        "evidence": EVIDENCE_VERSION,
    }
    if sources.ranker is not None:  # the prompt shows its probabilities (absent: older keys)
        key["ranker"] = json.dumps(sources.ranker.metadata, sort_keys=True, default=str)
        key["names"] = sources.names is not None  # its name features (absent: older keys)
    key["shown"] = "pair passages"  # only passages naming drug and disease (absent: all)
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def cached_visible_tasks(
    tasks: Sequence[Task],
    sources: Sources,
    cache_dir: Path | None = None,
    *,
    data: str = "",
    workers: int = 2,
    progress: bool = True,
) -> dict[str, ReasoningTask]:
    """Each task's visible reasoning task (gold masked), computed once and cached.

    Args:
        tasks: the tasks.
        sources: the graph, the literature (``None``: none) and the model (its tokenizer).
        cache_dir: where ``evidence-<key>.jsonl`` is kept (keyed by the tasks, the data
            version and the evidence settings); an interrupted run resumes. ``None``: no
            cache.
        data: the data version recorded in the key (:func:`kedrec_agent.kg.build.
            data_version`).
        workers: tasks gathered at once (store queries overlap).
        progress: show a progress bar.

    Returns:
        Visible tasks by task id; a task whose evidence could not be gathered (a store
        error) is left out and logged.
    """
    found: dict[str, ReasoningTask] = {}
    path = None
    if cache_dir is not None:
        path = cache_dir / f"evidence-{_cache_key(tasks, sources, data)}.jsonl"
        if path.is_file():
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                try:
                    record = json.loads(line)
                    found[record["task_id"]] = ReasoningTask.model_validate(record["visible"])
                except (ValueError, KeyError, TypeError):
                    log.warning("evidence cache %s, line %d unreadable: ignored", path, number)
        path.parent.mkdir(parents=True, exist_ok=True)
    todo = [t for t in tasks if t.task_id not in found]
    lock = threading.Lock()

    def one(task: Task) -> tuple[Task, ReasoningTask | None]:
        try:
            return task, visible_task(task, sources)[0]
        except KedrecError as exc:
            log.warning("no evidence for task %s: %s", task.task_id, type(exc).__name__)
            return task, None

    handle = path.open("a") if path is not None else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            bar = tqdm(total=len(todo), desc="evidence", unit="task", disable=not progress)
            for task, visible in pool.map(one, todo):
                bar.update()
                if visible is None:
                    continue
                with lock:
                    found[task.task_id] = visible
                    if handle is not None:
                        record = {"task_id": task.task_id, "visible": visible.model_dump()}
                        handle.write(json.dumps(record) + "\n")
                        handle.flush()
            bar.close()
    finally:
        if handle is not None:
            handle.close()
    return {t.task_id: found[t.task_id] for t in tasks if t.task_id in found}


@dataclass
class TaskRecord:
    """One method's answer to one task, with what the metrics need."""

    task_id: str
    positive: str
    chosen: str | None
    correct: bool
    seconds: float
    rouge: dict[str, float] | None
    cited: int
    hallucinated: int
    fallback: bool
    grounded: bool | None
    confidence: float | None


def record(task: Task, prediction: Prediction) -> TaskRecord:
    """The record of ``prediction``; ROUGE against the task's DrugMechDB rationale, if any."""
    scores = None
    if task.rationale and prediction.rationale:
        scores = rouge(prediction.rationale, task.rationale)
    return TaskRecord(
        task_id=task.task_id,
        positive=task.positive,
        chosen=prediction.chosen,
        correct=prediction.chosen == task.positive,
        seconds=prediction.seconds,
        rouge=scores,
        cited=prediction.cited,
        hallucinated=prediction.hallucinated,
        fallback=prediction.fallback,
        grounded=prediction.grounded,
        confidence=prediction.confidence,
    )


def metrics_of(records: Sequence[TaskRecord], tasks: dict[str, Task]) -> dict[str, Any]:
    """Every selection figure over ``records`` (see :mod:`training.evaluation.metrics`)."""
    outcomes = [
        Outcome(r.chosen, r.positive, tuple(c.id for c in tasks[r.task_id].candidates))
        for r in records
    ]
    figures: dict[str, Any] = selection_metrics(outcomes)
    scored = [r.rouge for r in records if r.rouge is not None]
    if scored:
        for name in ("rouge1", "rouge2", "rougeL"):
            figures[name] = mean(s[name] for s in scored)
        figures["rouge_pairs"] = len(scored)
    answered = [r for r in records if r.chosen is not None]
    if any(r.grounded is not None for r in records):
        figures.update(
            citation_metrics([r.cited for r in answered], [r.hallucinated for r in records])
        )
        figures["fallback"] = mean(float(r.fallback) for r in records)
        figures["grounded"] = mean(float(bool(r.grounded)) for r in records)
    confident = [r for r in records if r.confidence is not None and r.chosen is not None]
    if confident:
        figures["calibration"] = calibration(
            [float(r.confidence or 0.0) for r in confident], [r.correct for r in confident]
        )
    figures.update(latency([r.seconds for r in records]))
    return figures


def run_selection(
    tasks: Sequence[Task],
    visible: dict[str, ReasoningTask],
    methods: Sequence[Method],
    *,
    model_tasks: set[str] | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Answer every task with every method; per method its metrics and per-task records.

    Args:
        tasks: the tasks (those without visible evidence are skipped).
        visible: visible tasks by task id (:func:`cached_visible_tasks`).
        methods: the methods to compare.
        model_tasks: the ids of the tasks that model-based methods answer (the seeded
            subset that fits the time budget); ``None``: all. Non-model methods answer
            all tasks and are also scored on this subset (``subset_metrics``), so that
            every method can be compared on the same tasks.
        progress: show a progress bar per method.

    Returns:
        ``{method: {"metrics", "subset_metrics", "records"}}``.
    """
    if not visible:
        raise InvalidInputError("No task has visible evidence: nothing to evaluate.")
    by_id = {t.task_id: t for t in tasks if t.task_id in visible}
    results: dict[str, dict[str, Any]] = {}
    for method in methods:
        todo = [
            t
            for t in by_id.values()
            if not method.uses_model or model_tasks is None or t.task_id in model_tasks
        ]
        records = [
            record(task, method.predict(task, visible[task.task_id]))
            for task in tqdm(todo, desc=method.name, unit="task", disable=not progress)
        ]
        entry: dict[str, Any] = {
            "uses_model": method.uses_model,
            "metrics": metrics_of(records, by_id),
            "records": [asdict(r) for r in records],
        }
        if model_tasks is not None:
            picked = [r for r in records if r.task_id in model_tasks]
            entry["subset_metrics"] = metrics_of(picked, by_id)
        results[method.name] = entry
        log.info("%s: accuracy %.3f", method.name, entry["metrics"]["accuracy"])
    return results


@dataclass
class RankerHarness(Harness):
    """The harness with the learned ranker (``ranker``) beside the baselines.

    The ranker answers every task from the task's structured evidence, gathered with the
    same masking, the same tools and settings as the cached reasoning tasks the other
    methods answer from (:class:`~training.evaluation.methods.RankerMethod` counts any task
    where the two differ), and cached beside them (``<out>/cache``).

    Args:
        ranker_artifact: the ranker's JSON artifact; default the shipped one.
    """

    ranker_artifact: Path | None = None

    @cached_property
    def ranker(self) -> RankerMethod | None:
        """The ranker method (``None`` when no artifact loads: logged, left out)."""
        from kedrec_agent.ranking.model import Ranker
        from kedrec_agent.ranking.semantic import optional_similarity
        from kedrec_agent.ranking.tables import DrugTables

        try:
            ranker = Ranker.load(self.ranker_artifact)
        except ConfigError as exc:
            log.warning("ranker not available: %s", exc)
            return None
        shown = self.sources
        sources = EvidenceSources(
            self.kg, shown.literature, shown.literature_k, shown.paths_per_drug
        )
        cache = EvidenceCache(sources, self.out / "cache", data=self.data_version)
        return RankerMethod(
            ranker,
            cache,
            self.kg,
            DrugTables.from_settings(self.settings),
            optional_similarity(self.settings),
        )

    def baseline_methods(self) -> list[Method]:
        """random, popularity, kg-path, kg-embedding and the ranker (when it loads)."""
        methods = super().baseline_methods()
        return [*methods, self.ranker] if self.ranker is not None else methods
