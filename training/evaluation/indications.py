"""PharmacotherapyDB indications: can a method tell DM/SYM pairs from curated NOT pairs?

For every disease of the file, all its drugs become the candidates of one masked task
(every known indication edge of the disease and its DOID/MeSH equivalents hidden, as in
selection), and each method scores every candidate: the evidence weight (KG-path), the
embedding cosine, the training-set popularity, a random score, or the model's
log-likelihood of choosing the drug (:meth:`~kedrec_agent.reasoning.reasoner.Reasoner.score`).
AUROC and AUPRC are computed over all pairs pooled, as TxGNN reports them; label 1 is
``DM``/``SYM``, 0 is ``NOT``.

Example:
    >>> tasks, labels = indication_tasks(Path("indications_dev.tsv"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.schema import ReasoningTask
from training.evaluation.methods import Method, ModelMethod
from training.evaluation.metrics import ranking_metrics
from training.tasks.inputs import read_indications
from training.tasks.schema import Task, TaskCandidate

log = logging.getLogger(__name__)

Labels = dict[str, dict[str, int]]
"""Per task id, the label (1: DM/SYM, 0: NOT) of each candidate drug."""


def indication_tasks(
    indications: Path, settings: Settings | None = None
) -> tuple[list[Task], Labels]:
    """One task per disease of a PharmacotherapyDB file, with its pairs' labels.

    Diseases are grouped by canonical concept (DOID/MeSH equivalents together); drugs the
    linker cannot name are left out. A drug listed both as an indication and as NOT is an
    indication. Diseases with fewer than two nameable drugs are left out and logged.

    Raises:
        DataMissingError: the file is missing.
        InvalidInputError: a malformed line (file and line named), or no usable disease.
    """
    settings = settings or get_settings()
    linker = get_linker(settings)
    kg = KnowledgeGraph.from_settings(settings)
    grouped: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    for row in read_indications(indications):
        try:
            concept = linker.disease(row.disease)
        except InvalidInputError:
            log.info("indications: disease id %s unknown to the linker, skipped", row.disease)
            continue
        labels = grouped.setdefault(concept.canonical, {})
        labels[row.drug] = max(labels.get(row.drug, 0), int(row.category != "NOT"))
        names.setdefault(concept.canonical, row.disease_name)
    tasks: list[Task] = []
    kept: Labels = {}
    for canonical, labels in grouped.items():
        concept = linker.disease(canonical)
        known = {drug for drug, label in labels.items() if label}
        disease_ids = set(concept.equivalents)
        for edge in kg.drugs_for_disease(canonical):
            if edge.drug.local_id.startswith("DB"):
                known.add(edge.drug.local_id)
                disease_ids.add(edge.disease.local_id)
        candidates = [
            TaskCandidate(id=drug, name=name, negative="positive" if labels[drug] else "curated")
            for drug in sorted(labels)
            if (name := linker.name_of(drug))
        ]
        if len(candidates) < 2:
            log.info("indications: %s has fewer than two nameable drugs, skipped", canonical)
            continue
        positive = next((c.id for c in candidates if labels[c.id]), candidates[0].id)
        task = Task(
            task_id=f"{canonical}|indications",
            split="indications",
            disease=canonical,
            disease_name=linker.name_of(canonical) or names[canonical] or canonical,
            positive=positive,
            source="pharmacotherapydb",
            candidates=candidates,
            exclusions=sorted((d, x) for d in known for x in disease_ids),
        )
        tasks.append(task)
        kept[task.task_id] = {c.id: labels[c.id] for c in candidates}
    if not tasks:
        raise InvalidInputError(f"{indications}: no disease with two or more nameable drugs.")
    return tasks, kept


def candidate_scores(method: Method, task: Task, visible: ReasoningTask) -> dict[str, float]:
    """A method's score of every candidate (the model: its log-likelihood of the id)."""
    if isinstance(method, ModelMethod):
        return dict(Reasoner(method.model).score(visible))
    return method.predict(task, visible).scores


def run_indications(
    tasks: Sequence[Task],
    labels: Labels,
    visible: dict[str, ReasoningTask],
    methods: Sequence[Method],
    *,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """AUROC / AUPRC of every method's scores over the pooled pairs.

    A method without scores (one that abstains) scores its candidates at the minimum, so
    every pair counts.

    Returns:
        ``{method: {"auroc", "auprc", "pairs", "positives"}}``.
    """
    results: dict[str, dict[str, Any]] = {}
    for method in methods:
        scores: list[float] = []
        truth: list[int] = []
        for task in tqdm(tasks, desc=f"indications {method.name}", disable=not progress):
            if task.task_id not in visible:
                continue
            got = candidate_scores(method, task, visible[task.task_id])
            floor = min(got.values(), default=0.0) - 1.0
            for drug, label in labels[task.task_id].items():
                scores.append(got.get(drug, floor))
                truth.append(label)
        results[method.name] = {
            **ranking_metrics(scores, truth),
            "pairs": len(truth),
            "positives": sum(truth),
        }
    return results
