"""``kedrec train``: tasks -> teacher traces -> LoRA adapter -> dev check.

Registered as a plugin of the ``kedrec`` command (entry point group ``kedrec.cli``), so
that :mod:`kedrec_agent` never imports this package. Outputs go under
``KEDREC_HOME/training/`` unless told otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    help="Distil the reasoning model: build tasks, collect teacher traces, fine-tune a LoRA "
    "adapter, check it on the dev split.",
    no_args_is_help=True,
)
out = Console()

SPLITS = ("train", "dev")
ConfigOpt = Annotated[str, typer.Option("--config", help="cpu-small (this CPU) or gpu.")]
DevLimitOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Dev tasks to answer: the seeded subset `kedrec eval exprxrec --limit` answers.",
    ),
]


def _settings() -> Any:
    from kedrec_agent.config import get_settings

    return get_settings()


def _work(name: str) -> Path:
    path = Path(_settings().home) / "training" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _split_files(split: str) -> tuple[Path, Path, Path, list[Path]]:
    """Diseases, indications, rationales of a bundle split, and the splits it must avoid."""
    settings = _settings()
    if split not in SPLITS:
        from kedrec_agent.errors import InvalidInputError

        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    other = "dev" if split == "train" else "train"
    return (
        settings.data_file(f"splits/diseases_{split}.txt"),
        settings.data_file(f"eval/pharmacotherapydb/indications_{split}.tsv"),
        settings.data_file(f"eval/drugmechdb/paths_{split}.jsonl"),
        [settings.data_file(f"splits/diseases_{other}.txt")],
    )


def _friendly(func: Any) -> Any:
    from kedrec_agent.cli import _friendly as wrap

    return wrap(func)


@app.command()
@_friendly
def tasks(
    split: Annotated[str, typer.Option(help="Bundle split: train or dev.")] = "train",
    diseases: Annotated[Path | None, typer.Option(help="Disease list (overrides split).")] = None,
    indications: Annotated[Path | None, typer.Option(help="PharmacotherapyDB TSV.")] = None,
    rationales: Annotated[Path | None, typer.Option(help="DrugMechDB paths JSONL.")] = None,
    forbid: Annotated[
        list[Path] | None, typer.Option(help="Disease lists the tasks must not touch.")
    ] = None,
    negatives: Annotated[int, typer.Option(min=1, max=20)] = 4,
    per_disease: Annotated[int, typer.Option(min=1, max=50)] = 3,
    seed: int = 0,
    output: Annotated[Path | None, typer.Option("--out", help="Tasks JSONL.")] = None,
    drop_forbidden: Annotated[
        bool,
        typer.Option(
            help="Leave out (and count) diseases shared with a forbidden list "
            "instead of refusing. On for the bundle splits, which share one "
            "disease through a DOID that maps to two MeSH ids."
        ),
    ] = False,
) -> Path:
    """Build expRxRec-style tasks (one true indication among hard negatives)."""
    from training.tasks import build_tasks, summarize, write_tasks

    files = _split_files(split)
    built = build_tasks(
        diseases or files[0],
        indications or files[1],
        rationales or files[2],
        negatives=negatives,
        per_disease=per_disease,
        seed=seed,
        split=split,
        forbidden=files[3] if forbid is None else forbid,
        drop_forbidden=drop_forbidden or diseases is None,
    )
    path = output or _work(f"tasks_{split}.jsonl")
    write_tasks(built, path)
    out.print(f"{summarize(built)}\n→ {path}", highlight=False)
    return path


def _teacher(spec: str) -> Any:
    from training.teacher import ChatTeacher, EvidenceTeacher

    if spec == "evidence":
        return EvidenceTeacher()
    if spec.startswith("hf:"):
        import dataclasses

        from kedrec_agent.reasoning.runtime import load_model

        local = dataclasses.replace(_settings(), model=Path(spec[3:]), adapter=None)
        return ChatTeacher(load_model(local).chat_model(), name=spec)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - langchain is a dev dependency
        from kedrec_agent.errors import ConfigError

        raise ConfigError("A chat-model teacher needs the langchain package.") from exc
    return ChatTeacher(init_chat_model(spec), name=spec)


def _sources(literature: bool) -> Any:
    from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
    from kedrec_agent.literature.search import LiteratureSearch
    from kedrec_agent.reasoning.runtime import load_model
    from training.collect import Sources

    return Sources(
        kg=KnowledgeGraph.from_settings(),
        literature=LiteratureSearch.from_settings() if literature else None,
        model=load_model(),
    )


@app.command()
@_friendly
def collect(
    tasks_file: Annotated[Path | None, typer.Option("--tasks", help="Tasks JSONL.")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Traces JSONL.")] = None,
    teacher: Annotated[
        str,
        typer.Option(
            help="evidence (offline default), hf:<local model folder>, or a "
            "LangChain init_chat_model spec such as openai:gpt-4o"
        ),
    ] = "evidence",
    workers: Annotated[int, typer.Option(min=1, max=32)] = 2,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many tasks.")] = None,
    literature: Annotated[bool, typer.Option(help="Include literature evidence.")] = True,
    consistent: Annotated[
        bool,
        typer.Option(
            help="Keep only tasks whose visible evidence favours the true drug (the others "
            "teach a choice the student cannot read from its prompt)."
        ),
    ] = True,
) -> Path:
    """Run the agent's tools on each task (gold masked) and record the teacher's answers."""
    from training.collect import collect_traces, file_hash
    from training.tasks import read_tasks

    source = tasks_file or _work("tasks_train.jsonl")
    todo = read_tasks(source)[:limit]
    path = output or _work("traces_train.jsonl")
    report = collect_traces(
        todo, path, _teacher(teacher), _sources(literature), tasks_hash=file_hash(source)[:16],
        consistent=consistent, workers=workers,
    )  # fmt: skip
    out.print(f"{report.summary()}\n→ {path}", highlight=False)
    return path


@app.command()
@_friendly
def sft(
    config: ConfigOpt = "cpu-small",
    traces: Annotated[Path | None, typer.Option(help="Traces JSONL.")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Adapter folder.")] = None,
    resume: Annotated[bool, typer.Option(help="Resume from the last checkpoint.")] = True,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Override the config's optimizer steps.")
    ] = None,
) -> Path:
    """Fine-tune a LoRA adapter on the traces (TRL SFTTrainer, loss on the answer only)."""
    from training.configs import get_config
    from training.sft import train_adapter

    chosen = get_config(config)
    if max_steps is not None:
        chosen = chosen.model_copy(update={"max_steps": max_steps})
    folder = output or _work(f"adapters/{config}")
    report = train_adapter(traces or _work("traces_train.jsonl"), folder, chosen, resume=resume)
    out.print(report.model_dump_json(indent=1), highlight=False)
    return folder


@app.command()
@_friendly
def evaluate(
    adapter: Annotated[Path | None, typer.Option(help="Adapter folder to compare.")] = None,
    tasks_file: Annotated[Path | None, typer.Option("--tasks", help="Dev tasks JSONL.")] = None,
    limit: DevLimitOpt = 100,
    literature: bool = True,
) -> dict[str, Any]:
    """Selection accuracy on dev tasks (gold masked): base model vs the adapter."""
    import dataclasses

    from kedrec_agent.agent.answer import data_version
    from kedrec_agent.reasoning.runtime import load_model
    from training.evaluate import evaluate_selection
    from training.tasks import read_tasks

    todo = read_tasks(tasks_file or _work("tasks_dev.jsonl"))
    cache = Path(_settings().home) / "eval" / "cache"  # shared with `kedrec eval`
    base = load_model(dataclasses.replace(_settings(), adapter=None, default_adapter=False))
    sources = _sources(literature)
    sources.model = base
    figures: dict[str, Any] = {}
    runs = [("base", base)]
    if adapter is not None:
        runs.append(("adapter", load_model(dataclasses.replace(_settings(), adapter=adapter))))
    for name, model in runs:
        report = evaluate_selection(
            todo, sources, model, limit=limit, cache_dir=cache, data=data_version()
        )
        out.print(report.summary(name), highlight=False)
        figures[name] = {
            "accuracy": round(report.accuracy, 4),
            "tasks": report.tasks,
            "fallback": report.fallback,
            "ungrounded": report.ungrounded,
            "seconds_per_task": round(report.seconds / max(report.tasks, 1), 3),
        }
    if adapter is not None:
        _record_dev_metrics(adapter, figures)
    return figures


def _record_dev_metrics(adapter: Path, figures: dict[str, Any]) -> None:
    """Write the dev figures into the adapter's report and model card."""
    from training.sft import SFTReport, model_card

    metrics = {
        f"{name}_{key}": float(value)
        for name, values in figures.items()
        for key, value in values.items()
    }
    report_path = adapter / "training_report.json"
    if report_path.is_file():
        report = SFTReport.model_validate_json(report_path.read_text())
        report = report.model_copy(update={"dev_metrics": metrics})
        report_path.write_text(report.model_dump_json(indent=1))
        (adapter / "README.md").write_text(model_card(report))


@app.command(name="all")
@_friendly
def run_all(
    config: ConfigOpt = "cpu-small",
    install: Annotated[
        bool, typer.Option(help="Copy the adapter into the package (the default adapter).")
    ] = False,
    dev_limit: DevLimitOpt = 100,
) -> None:
    """Tasks (train and dev), traces, adapter, dev check; optionally install the adapter."""
    from kedrec_agent.reasoning.runtime import PACKAGED_ADAPTER
    from training.configs import get_config

    chosen = get_config(config)
    train_tasks = tasks(split="train")
    traces = collect(tasks_file=train_tasks, limit=chosen.max_examples)
    folder = sft(config=config, traces=traces)
    dev_tasks = tasks(split="dev")
    evaluate(adapter=folder, tasks_file=dev_tasks, limit=dev_limit)
    if install:
        shutil.rmtree(PACKAGED_ADAPTER, ignore_errors=True)
        shutil.copytree(folder, PACKAGED_ADAPTER, ignore=shutil.ignore_patterns("checkpoints"))
        out.print(f"installed → {PACKAGED_ADAPTER}")
