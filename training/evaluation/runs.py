"""One function per evaluation: build the inputs, run every method, return JSON-able figures.

Each result carries its inputs' hashes and the versions of what produced it
(:meth:`training.evaluation.suite.Harness.versions`), so that every figure can be traced
to the command, the data and the model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kedrec_agent.data.bundle import split_files
from kedrec_agent.reasoning.schema import ReasoningTask
from training.evaluation.exprxrec import (
    cached_visible_tasks,
    lineage_masked,
    run_selection,
    subset,
)
from training.evaluation.indications import indication_tasks, run_indications
from training.evaluation.suite import Harness
from training.tasks.build import build_tasks
from training.tasks.files import file_hash
from training.tasks.schema import Task
from training.tasks.summary import summarize_tasks

log = logging.getLogger(__name__)


def exprxrec(
    harness: Harness,
    diseases: Path | None = None,
    indications: Path | None = None,
    rationales: Path | None = None,
    *,
    negatives: int = 4,
    limit: int | None = 100,
    models: bool = True,
    ablations: bool = True,
    mask_lineage: bool = False,
) -> dict[str, Any]:
    """expRxRec-style selection on a disease list (default: the bundle's dev split).

    Args:
        harness: the shared set-up.
        diseases: disease list; default the bundle's dev split
            (:func:`~kedrec_agent.data.bundle.split_files`).
        indications: PharmacotherapyDB TSV; default the dev one.
        rationales: DrugMechDB JSONL; default the dev one.
        negatives: negatives per task.
        limit: tasks the model-based methods answer (a seeded subset); ``None``: all.
        models: run the model-based methods (off: the baselines only).
        ablations: also run the default model without KG / without literature evidence.
        mask_lineage: also mask the candidates' indications of the disease's MeSH ancestors
            and descendants (:func:`~training.evaluation.exprxrec.lineage_masked`).
    """
    dev = split_files("dev", harness.settings)
    files = (diseases or dev.diseases, indications or dev.indications, rationales or dev.rationales)
    tasks = _tasks(harness, files, negatives)
    if mask_lineage:
        tasks = lineage_masked(tasks, harness.kg)
    visible = _visible(harness, tasks)
    usable = [t for t in tasks if t.task_id in visible]
    picked = {t.task_id for t in subset(usable, limit, harness.seed)}
    methods = harness.baseline_methods()
    if models:
        methods += harness.model_methods(ablations=ablations)
    results = run_selection(usable, visible, methods, model_tasks=picked, progress=harness.progress)
    summary = summarize_tasks(tasks)
    return {
        "inputs": {str(p): h for p, h in zip(files, map(_short_hash, files), strict=True)},
        "data_hash": harness.digest_of(list(files)),
        "tasks": len(tasks),
        "tasks_with_evidence": len(usable),
        "with_rationale": summary.with_rationale,
        "dropped_forbidden": summary.stats.dropped_forbidden if summary.stats else 0,
        "model_subset": len(picked),
        "negatives": negatives,
        "mask_lineage": mask_lineage,
        "adapter": "available" if harness.adapter_model is not None else "not available",
        "methods": results,
    }


def _tasks(harness: Harness, files: tuple[Path, Path, Path], negatives: int = 4) -> list[Task]:
    """Masked tasks from (diseases, indications, rationales).

    Train diseases are refused (dropped and counted) unless the list is the train split.
    """
    train = split_files("train", harness.settings).diseases
    forbidden = [] if files[0].resolve() == train.resolve() else [train]
    return build_tasks(
        *files,
        negatives=negatives,
        seed=harness.seed,
        forbidden=forbidden,
        settings=harness.settings,
        drop_forbidden=True,
    )


def teacher(harness: Harness, tasks: Sequence[Task] | None = None) -> dict[str, Any]:
    """The rule-based teacher's rationales on the dev tasks, against DrugMechDB's.

    The teacher knows the right drug (an oracle for the choice), so its figure is not a
    method's: it is the ceiling of what a faithful rationale from the shown evidence scores
    against DrugMechDB's mechanism text, what a student trained on its traces can reach.
    Reports ROUGE-1/2/L over the tasks with a DrugMechDB rationale and with visible evidence
    about the right drug, and how many of its answers the training checks would reject.

    Args:
        harness: the shared set-up (its evidence cache).
        tasks: the tasks (default: the dev split's, as ``kedrec eval exprxrec`` builds them).
    """
    from kedrec_agent.reasoning.reasoner import Reasoner
    from training.evaluation.metrics import mean, rouge
    from training.teacher import EvidenceTeacher, validate

    prompt = Reasoner(harness.base_model).prompt
    if tasks is None:
        dev = split_files("dev", harness.settings)
        tasks = _tasks(harness, (dev.diseases, dev.indications, dev.rationales))
    every = list(tasks)
    visible = _visible(harness, every)  # the whole list: the cache exprxrec filled
    tasks = [t for t in every if t.rationale]
    pick = EvidenceTeacher()
    scores: list[dict[str, float]] = []
    rejected: dict[str, int] = {}
    for task in tasks:
        if task.task_id not in visible:
            continue
        view = visible[task.task_id]
        shown = sorted(prompt(view)[1], key=lambda i: int(i[1:]))  # as at collection
        if not any(task.positive in e.drugs for e in view.evidence if e.id in shown):
            rejected["no visible evidence for the gold drug"] = (
                rejected.get("no visible evidence for the gold drug", 0) + 1
            )
            continue
        text = pick.answer(task, view, shown)
        problem = validate(text, task, view, shown)
        if problem is not None:
            rejected[problem] = rejected.get(problem, 0) + 1
            continue
        rationale = json.loads(text)["choices"][0]["rationale"]
        scores.append(rouge(rationale, task.rationale or ""))
    return {
        "teacher": pick.name,
        "tasks_with_rationale": len(tasks),
        "scored": len(scores),
        "rejected": rejected,
        **{name: mean(s[name] for s in scores) for name in ("rouge1", "rouge2", "rougeL")},
    }


def _visible(harness: Harness, tasks: Sequence[Task]) -> dict[str, ReasoningTask]:
    """The tasks' visible evidence, through the harness's evidence cache."""
    return cached_visible_tasks(
        tasks,
        harness.sources,
        harness.out / "cache",
        data=harness.data_version,
        workers=harness.workers,
        progress=harness.progress,
    )


def _short_hash(path: Path) -> str:
    return file_hash(path)[:16]


def indications(
    harness: Harness, file: Path | None = None, *, models: bool = True
) -> dict[str, Any]:
    """AUROC / AUPRC on PharmacotherapyDB pairs (default: the dev file)."""
    path = file or split_files("dev", harness.settings).indications
    tasks, labels = indication_tasks(path, harness.settings)
    visible = _visible(harness, tasks)
    methods = harness.baseline_methods()
    if models:
        methods += harness.model_methods(ablations=False)
    return {
        "inputs": {str(path): _short_hash(path)},
        "data_hash": harness.digest_of([path]),
        "diseases": len(tasks),
        "methods": run_indications(tasks, labels, visible, methods, progress=harness.progress),
    }


def mimic(
    harness: Harness,
    mimic_dir: Path | None = None,
    *,
    limit: int | None = None,
    max_drugs: int = 3,
) -> dict[str, Any]:
    """MIMIC-III medication metrics through the whole agent (default: the bundled demo)."""
    from kedrec_agent.patients.mimic import default_mimic_dir
    from training.evaluation.mimic import agent_recommender, run_mimic

    folder = mimic_dir or default_mimic_dir()
    recommender = agent_recommender(max_choices=max_drugs, literature=harness.literature)
    result = run_mimic(
        recommender, mimic_dir=folder, limit=limit, seed=harness.seed, progress=harness.progress
    )
    tables = sorted(p for p in folder.iterdir() if p.name.upper().startswith(
        ("ADMISSIONS", "PATIENTS", "DIAGNOSES_ICD", "PRESCRIPTIONS")
    ))  # fmt: skip
    result["data_hash"] = harness.digest_of(tables)
    result["mimic_dir"] = str(folder)
    result["max_drugs"] = max_drugs
    result["agent_model"] = harness.default_name
    return result


def patients(harness: Harness, file: Path) -> dict[str, Any]:
    """Free-text patients through the whole agent."""
    from kedrec_agent.api import recommend
    from training.evaluation.patients import read_patients, run_patients

    cases = read_patients(file)

    def answer(text: str) -> Any:
        return recommend(text, literature=harness.literature)

    result = run_patients(cases, answer, progress=harness.progress)
    result["data_hash"] = harness.digest_of([file])
    result["file"] = str(file)
    return result
