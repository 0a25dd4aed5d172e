"""``kedrec eval``: selection, indications, MIMIC-III, patients, vignettes, the full report.

Registered as a plugin of the ``kedrec`` command (entry point group ``kedrec.cli``).
Results go to ``KEDREC_HOME/eval/`` (``--out`` to change): one JSON per command, and for
``report`` also ``report.md`` with its plots. ``adapter`` (base model vs a distilled
adapter on the dev tasks) writes its figures into the adapter's model card instead.
"""

from __future__ import annotations

import shlex
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    help="Evaluate the agent and its baselines with the gold masked: expRxRec-style "
    "selection, PharmacotherapyDB indications, MIMIC-III medications, free-text patients, "
    "and the full report (tables, plots, JSON).",
    no_args_is_help=True,
)
out = Console()

OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Output folder (default KEDREC_HOME/eval).")
]
SeedOpt = Annotated[int, typer.Option(help="Seeds the random baseline, subsets and samples.")]
LiteratureOpt = Annotated[
    bool, typer.Option(help="Gather literature evidence (off: KG evidence only).")
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        min=1, help="Tasks the model-based methods answer (a seeded subset; baselines: all)."
    ),
]
ModelsOpt = Annotated[
    bool, typer.Option(help="Run the model-based methods (off: the baselines only).")
]
MimicLimitOpt = Annotated[
    int | None, typer.Option(min=1, help="At most this many admissions (a seeded sample).")
]
DevLimitOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Dev tasks to answer: the seeded subset `kedrec eval exprxrec --limit` answers.",
    ),
]


def _friendly(func: Any) -> Any:
    from kedrec_agent.cli import _friendly as wrap

    return wrap(func)


def _harness(output: Path | None, seed: int, literature: bool) -> Any:
    from training.evaluation.suite import Harness, default_out

    return Harness(out=output or default_out(), seed=seed, literature=literature)


def _command() -> str:
    return shlex.join(["kedrec", *sys.argv[1:]])


def _save(harness: Any, name: str, result: dict[str, Any]) -> Path:
    """Write ``result`` with the command and versions to ``<out>/<name>.json``; say where."""
    from training.evaluation.report import write_json

    data = {"command": _command(), "versions": harness.versions(), name: result}
    path = write_json(data, harness.out / f"{name}.json")
    out.print(f"→ {path}")
    return path


def _print_selection(result: dict[str, Any]) -> None:
    for name, entry in result["methods"].items():
        f = entry.get("subset_metrics") or entry["metrics"]
        rouge = f" ROUGE-L {f['rougeL']:.3f}" if "rougeL" in f else ""
        out.print(
            f"{name:>26}: acc {f['accuracy']:.3f} F1 {f['f1']:.3f} macro-F1 "
            f"{f['macro_f1']:.3f}{rouge} abstain {f['abstention']:.2f} ({int(f['tasks'])} tasks)",
            highlight=False,
        )


@app.command()
@_friendly
def exprxrec(
    diseases: Annotated[
        Path | None, typer.Option(help="Disease list (default: the bundle's dev split).")
    ] = None,
    indications: Annotated[
        Path | None, typer.Option(help="PharmacotherapyDB TSV (default: the dev file).")
    ] = None,
    rationales: Annotated[
        Path | None, typer.Option(help="DrugMechDB paths JSONL (default: the dev file).")
    ] = None,
    negatives: Annotated[int, typer.Option(min=1, max=20, help="Negatives per task.")] = 4,
    limit: LimitOpt = 100,
    models: ModelsOpt = True,
    ablations: Annotated[
        bool, typer.Option(help="Also run the default model without KG / literature evidence.")
    ] = True,
    mask_lineage: Annotated[
        bool,
        typer.Option(
            help="Stricter masking: also hide the candidates' indications of the disease's "
            "MeSH ancestors and descendants (a sensitivity check)."
        ),
    ] = False,
    seed: SeedOpt = 0,
    literature: LiteratureOpt = True,
    output: OutOpt = None,
    ranker: Annotated[
        bool,
        typer.Option(
            help="Also run the learned ranker (`kedrec train ranker`) beside the baselines, "
            "with a reliability diagram."
        ),
    ] = False,
    ranker_artifact: Annotated[
        Path | None, typer.Option(help="Ranker artifact JSON (default: the shipped one).")
    ] = None,
    record_ranker: Annotated[
        bool,
        typer.Option(help="With --ranker: write its figures into its model card (RANKER_CARD.md)."),
    ] = False,
) -> Path:
    """expRxRec-style selection: accuracy, P/R/F1, macro-F1, ROUGE, citations, latency."""
    from training.evaluation import runs

    harness = _harness(output, seed, literature)
    if ranker:
        from training.evaluation.exprxrec import RankerHarness

        harness = RankerHarness(
            out=harness.out, seed=seed, literature=literature, ranker_artifact=ranker_artifact
        )
    result = runs.exprxrec(
        harness, diseases, indications, rationales, negatives=negatives, limit=limit,
        models=models, ablations=ablations, mask_lineage=mask_lineage,
    )  # fmt: skip
    _print_selection(result)
    if ranker and "ranker" in result["methods"]:
        from training.ranker_report import selection_summary

        text = selection_summary(
            result, harness.ranker.mismatched, harness.out, command=_command(),
            artifact=ranker_artifact, record=record_ranker,
        )  # fmt: skip
        out.print(text, highlight=False)
    return _save(harness, "exprxrec", result)


@app.command(name="indications")
@_friendly
def indications_cmd(
    file: Annotated[
        Path | None, typer.Option("--indications", help="PharmacotherapyDB TSV (default: dev).")
    ] = None,
    models: ModelsOpt = True,
    seed: SeedOpt = 0,
    literature: LiteratureOpt = True,
    output: OutOpt = None,
) -> Path:
    """AUROC / AUPRC of each method's drug scores on DM/SYM vs NOT pairs."""
    from training.evaluation import runs

    harness = _harness(output, seed, literature)
    result = runs.indications(harness, file, models=models)
    for name, f in result["methods"].items():
        out.print(f"{name:>14}: AUROC {f['auroc']:.3f} AUPRC {f['auprc']:.3f}", highlight=False)
    return _save(harness, "indications", result)


class MimicProtocol(StrEnum):
    """How ``kedrec eval mimic`` measures (``--protocol``)."""

    drug = "drug"
    safedrug = "safedrug"


def _safedrug_result(
    mimic_dir: Path | None,
    seed: int,
    *,
    agent: bool = False,
    literature: bool = False,
    max_drugs: int = 3,
) -> dict[str, Any]:
    """The SafeDrug/GAMENet protocol's result: its baselines, and the agent with ``agent``.

    The agent runs in set mode (:mod:`training.evaluation.safedrug.agent`) as ``agent``
    and ``agent-no-safety`` (one agent call per later visit, shared by both).
    """
    from training.evaluation.safedrug.evaluate import ProtocolConfig, run_protocol

    config = ProtocolConfig(seed=seed)
    if not agent:
        return run_protocol(mimic_dir, config=config)
    from training.evaluation.safedrug.agent import AgentSetMode

    mode = AgentSetMode.from_agent(mimic_dir, max_drugs=max_drugs, literature=literature)
    mode.ddi_level = config.ddi_level
    result = run_protocol(mimic_dir, config=config, recommenders=mode.recommenders())
    result["agent"] = {**mode.summary(), "literature": literature}
    return result


def _mimic_safedrug(
    mimic_dir: Path | None,
    seed: int,
    output: Path | None,
    *,
    agent: bool = False,
    literature: bool = False,
    max_drugs: int = 3,
) -> Path:
    """``--protocol safedrug``: :func:`_safedrug_result`, printed and written out.

    Writes ``mimic_safedrug.{json,md,png}`` to the output folder. The versions recorded
    are the package's and the commit's, and with ``agent`` the model's, adapter's,
    prompt's and data's too.
    """
    from kedrec_agent import __version__
    from training.evaluation.safedrug.report import summary_lines, write_outputs
    from training.evaluation.suite import _git_commit

    harness = _harness(output, seed, literature=literature)
    result = _safedrug_result(
        mimic_dir, seed, agent=agent, literature=literature, max_drugs=max_drugs
    )
    for line in summary_lines(result):
        out.print(line, highlight=False, soft_wrap=True)
    versions = (
        harness.versions()
        if agent
        else {"kedrec_agent": __version__, "git_commit": _git_commit(), "seed": seed}
    )
    paths = write_outputs(result, harness.out, {"command": _command(), "versions": versions})
    for path in paths.values():
        out.print(f"→ {path}")
    return paths["json"]


@app.command(name="mimic")
@_friendly
def mimic_cmd(
    mimic_dir: Annotated[
        Path | None,
        typer.Option(help="MIMIC-III tables (default: the bundled demo; or your full copy)."),
    ] = None,
    limit: MimicLimitOpt = None,
    max_drugs: Annotated[
        int, typer.Option(min=1, max=10, help="Drugs the agent may recommend.")
    ] = 3,
    seed: SeedOpt = 0,
    literature: Annotated[
        bool | None,
        typer.Option(
            help="Gather literature evidence (off: KG evidence only). Default: on for "
            "--protocol drug, off for the safedrug protocol's --agent (speed)."
        ),
    ] = None,
    output: OutOpt = None,
    protocol: Annotated[
        MimicProtocol,
        typer.Option(
            help="drug: the agent's drugs vs each admission's prescriptions (DrugBank); "
            "safedrug: the SafeDrug/GAMENet protocol (ATC-3 classes, patients with >= 2 "
            "visits) with its baselines and 95% intervals."
        ),
    ] = MimicProtocol.drug,
    agent: Annotated[
        bool,
        typer.Option(
            help="With --protocol safedrug: also run the agent in set mode (agent, "
            "agent-no-safety; previous visit's classes carried, up to --max-drugs agent "
            "drugs' classes added). Off by default: one agent call per later visit "
            "(minutes on the demo)."
        ),
    ] = False,
) -> Path:
    """Per admission, diagnoses -> drug set vs prescriptions: Jaccard, F1, PRAUC, DDI rate."""
    from training.evaluation import runs

    if protocol is MimicProtocol.safedrug:
        return _mimic_safedrug(
            mimic_dir, seed, output, agent=agent, literature=bool(literature),
            max_drugs=max_drugs,
        )  # fmt: skip
    harness = _harness(output, seed, True if literature is None else literature)
    result = runs.mimic(harness, mimic_dir, limit=limit, max_drugs=max_drugs)
    for name, f in result["methods"].items():
        out.print(
            f"{name:>16}: Jaccard {f['jaccard']:.3f} F1 {f['f1']:.3f} PRAUC {f['prauc']:.3f} "
            f"drugs {f['avg_drugs']:.1f} DDI {f['ddi_rate']:.3f}",
            highlight=False,
        )
    m = result["mapping"]
    out.print(
        f"mapping coverage: {m['row_coverage']:.2f} of rows, {m['name_coverage']:.2f} of names; "
        f"ground-truth DDI rate {result['ground_truth']['ddi_rate']:.3f}",
        highlight=False,
    )
    return _save(harness, "mimic", result)


@app.command(name="patients")
@_friendly
def patients_cmd(
    file: Annotated[
        Path, typer.Option("--file", help="JSONL: one {'text': ..., optional gold} a line.")
    ],
    seed: SeedOpt = 0,
    literature: LiteratureOpt = True,
    output: OutOpt = None,
) -> Path:
    """Free-text patients: abstention, linking, latency, safety warnings, gold metrics."""
    from training.evaluation import runs

    harness = _harness(output, seed, literature)
    result = runs.patients(harness, file)
    out.print(
        f"patients {result['patients']}: abstention {result['abstention']:.2f}, linked "
        f"{result['linked']:.2f}, with warnings {result['with_warnings']:.2f}, "
        f"{result['mean_s']:.2f} s mean",
        highlight=False,
    )
    return _save(harness, "patients", result)


@app.command(name="vignettes")
@_friendly
def vignettes_cmd(
    split: Annotated[
        str, typer.Option(help="Split whose PharmacotherapyDB file the patients come from.")
    ] = "dev",
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="At most this many vignettes (a seeded order of diseases, each with its "
            "variants; default all).",
        ),
    ] = None,
    variants: Annotated[
        str, typer.Option(help="Comma-separated: single, interacting, two-conditions.")
    ] = "single,interacting,two-conditions",
    medication: Annotated[
        str, typer.Option(help="Current medication of the interacting variant (a drug name).")
    ] = "warfarin",
    seed: SeedOpt = 0,
    literature: LiteratureOpt = True,
    output: OutOpt = None,
) -> Path:
    """Generated patients (PharmacotherapyDB): hit@3, top-1 DM, NOT drugs, interactions, gate."""
    from training.evaluation.vignettes import (
        parse_variants,
        run_benchmark,
        summary_lines,
        write_markdown,
    )

    chosen = parse_variants(variants)
    harness = _harness(output, seed, literature)
    result = run_benchmark(
        harness, split=split, limit=limit, variants=chosen, medication=medication
    )
    for line in summary_lines(result):
        out.print(line, highlight=False)
    path = _save(harness, "vignettes", result)
    out.print(f"→ {write_markdown(result, harness.out / 'vignettes.md')}")
    return path


@app.command()
@_friendly
def report(
    limit: LimitOpt = 100,
    mimic_limit: MimicLimitOpt = 60,
    patients: Annotated[
        Path | None, typer.Option(help="Also evaluate this free-text patients JSONL.")
    ] = None,
    vignettes_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Dev vignettes the agent answers (default: all)."),
    ] = None,
    models: ModelsOpt = True,
    mimic_agent: Annotated[
        bool,
        typer.Option(
            help="Add the agent in set mode to the SafeDrug-protocol table (one agent call "
            "per later visit: about 12 minutes on the demo)."
        ),
    ] = False,
    seed: SeedOpt = 0,
    literature: LiteratureOpt = True,
    output: OutOpt = None,
) -> Path:
    """The default suite on the dev split and the MIMIC-III demo: report.md, plots, JSON."""
    from training.evaluation import runs
    from training.evaluation.report import write_report

    harness = _harness(output, seed, literature)
    results: dict[str, Any] = {"command": _command(), "seconds": {}}

    def timed(name: str, run: Any) -> None:
        started = time.perf_counter()
        results[name] = run()
        results["seconds"][name] = round(time.perf_counter() - started, 1)

    timed("exprxrec", lambda: runs.exprxrec(harness, limit=limit, models=models))
    _print_selection(results["exprxrec"])
    timed("indications", lambda: runs.indications(harness, models=models))
    if models:
        timed("mimic", lambda: runs.mimic(harness, limit=mimic_limit))
    timed("mimic_safedrug", lambda: _safedrug_result(None, seed, agent=models and mimic_agent))
    if models:
        from training.evaluation.vignettes import run_benchmark

        timed("vignettes", lambda: run_benchmark(harness, split="dev", limit=vignettes_limit))
    if patients is not None:
        timed("patients", lambda: runs.patients(harness, patients))
    results["versions"] = harness.versions()
    path = write_report(results, harness.out)
    out.print(f"→ {path}")
    return path


@app.command(name="teacher")
@_friendly
def teacher_cmd(
    seed: SeedOpt = 0,
    literature: LiteratureOpt = True,
    output: OutOpt = None,
) -> Path:
    """The rule-based teacher's rationales on the dev tasks: ROUGE against DrugMechDB.

    The teacher knows the right drug, so this is the ceiling a student trained on its traces
    can reach, not a method's figure.
    """
    from training.evaluation import runs

    harness = _harness(output, seed, literature)
    result = runs.teacher(harness)
    out.print(
        f"{result['teacher']}: ROUGE-1/2/L {result['rouge1']:.3f} / {result['rouge2']:.3f} / "
        f"{result['rougeL']:.3f} over {result['scored']} of {result['tasks_with_rationale']} "
        f"dev tasks with a DrugMechDB rationale; rejected {result['rejected'] or 'none'}",
        highlight=False,
    )
    return _save(harness, "teacher", result)


@app.command(name="adapter")
@_friendly
def adapter_cmd(
    adapter: Annotated[Path | None, typer.Option(help="Adapter folder to compare.")] = None,
    tasks_file: Annotated[
        Path | None,
        typer.Option(
            "--tasks", help="Dev tasks JSONL (default: `kedrec train tasks --split dev`'s)."
        ),
    ] = None,
    limit: DevLimitOpt = 100,
    literature: bool = True,
    ranker: Annotated[
        bool,
        typer.Option(
            help="Show the learned ranker's probabilities in the prompt, as the agent does "
            "(and count the model's departures from the ranker's choice)."
        ),
    ] = True,
    base: Annotated[
        bool,
        typer.Option(help="Also answer with the base model (the card's comparison)."),
    ] = True,
) -> dict[str, Any]:
    """Selection accuracy on dev tasks (gold masked): base model vs the adapter.

    Also the shown rationales' gate failures and ROUGE against DrugMechDB. The figures go
    into the adapter's report and model card.
    """
    import dataclasses

    from kedrec_agent.ranking.model import load_ranker
    from kedrec_agent.ranking.semantic import optional_similarity
    from kedrec_agent.reasoning.runtime import load_model
    from training.evaluation.adapter import evaluate_selection
    from training.tasks.files import default_tasks_file, read_tasks

    harness = _harness(None, 0, literature)
    todo = read_tasks(tasks_file or default_tasks_file("dev", harness.settings))
    compared = [("base", harness.base_model)] if base else []
    if adapter is not None:
        with_adapter = dataclasses.replace(harness.settings, adapter=adapter)
        compared.append(("adapter", load_model(with_adapter)))
    sources = harness.sources
    if ranker:
        names = optional_similarity(harness.settings)
        sources = dataclasses.replace(sources, ranker=load_ranker(), names=names)
    figures: dict[str, Any] = {}
    whole = (
        "_all" if limit is None or limit >= len(todo) else ""
    )  # the card keeps subset and whole-set runs
    for name, model in compared:
        report = evaluate_selection(
            todo, sources, model, limit=limit, cache_dir=harness.out / "cache",
            data=harness.data_version,
        )  # fmt: skip
        out.print(report.summary(name), highlight=False)
        figures[name + whole] = report.figures()
    if adapter is not None:
        from training.sft.report import record_dev_metrics

        record_dev_metrics(adapter, figures)
    return figures
