"""One function per evaluation: build the inputs, run every method, return JSON-able figures.

Each result carries its inputs' hashes and the versions of what produced it
(:meth:`training.evaluation.suite.Harness.versions`), so that every figure can be traced
to the command, the data and the model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from training.evaluation.exprxrec import (
    build_eval_tasks,
    bundle_split,
    gather_evidence,
    lineage_masked,
    run_selection,
    subset,
)
from training.evaluation.indications import indication_tasks, run_indications
from training.evaluation.suite import Harness
from training.tasks import summarize

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
        diseases: disease list; default ``splits/diseases_dev.txt``.
        indications: PharmacotherapyDB TSV; default the dev one.
        rationales: DrugMechDB JSONL; default the dev one.
        negatives: negatives per task.
        limit: tasks the model-based methods answer (a seeded subset); ``None``: all.
        models: run the model-based methods (off: the baselines only).
        ablations: also run the default model without KG / without literature evidence.
        mask_lineage: also mask the candidates' indications of the disease's MeSH ancestors
            and descendants (:func:`~training.evaluation.exprxrec.lineage_masked`).
    """
    settings = harness.settings
    dev = bundle_split(settings, "dev")
    files = (diseases or dev[0], indications or dev[1], rationales or dev[2])
    train = settings.data_file("splits/diseases_train.txt")
    forbidden = [] if files[0].resolve() == train.resolve() else [train]
    tasks = build_eval_tasks(
        *files, negatives=negatives, seed=harness.seed, forbidden=forbidden, settings=settings
    )
    if mask_lineage:
        tasks = lineage_masked(tasks, harness.kg)
    visible = gather_evidence(
        tasks,
        harness.sources,
        harness.out / "cache",
        data=harness.data_version,
        workers=harness.workers,
        progress=harness.progress,
    )
    usable = [t for t in tasks if t.task_id in visible]
    picked = {t.task_id for t in subset(usable, limit, harness.seed)}
    methods = harness.baseline_methods()
    if models:
        methods += harness.model_methods(ablations=ablations)
    results = run_selection(usable, visible, methods, model_tasks=picked, progress=harness.progress)
    summary = summarize(tasks)
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


def _short_hash(path: Path) -> str:
    from training.collect import file_hash

    return file_hash(path)[:16]


def indications(
    harness: Harness, file: Path | None = None, *, models: bool = True
) -> dict[str, Any]:
    """AUROC / AUPRC on PharmacotherapyDB pairs (default: the dev file)."""
    path = file or bundle_split(harness.settings, "dev")[1]
    tasks, labels = indication_tasks(path, harness.settings)
    visible = gather_evidence(
        tasks,
        harness.sources,
        harness.out / "cache",
        data=harness.data_version,
        workers=harness.workers,
        progress=harness.progress,
    )
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
