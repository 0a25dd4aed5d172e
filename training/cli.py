"""``kedrec train``: tasks -> teacher traces -> LoRA adapter (checked by ``kedrec eval adapter``).

Registered as a plugin of the ``kedrec`` command (entry point group ``kedrec.cli``), so
that :mod:`kedrec_agent` never imports this package. Outputs go under
``KEDREC_HOME/training/`` unless told otherwise. The dev check of an adapter belongs to the
evaluation harness (``kedrec eval adapter``), which this package never imports.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from kedrec_agent.data.bundle import SplitFiles

app = typer.Typer(
    help="Distil the reasoning model: build tasks, collect teacher traces, fine-tune a LoRA "
    "adapter (then `kedrec eval adapter` checks it on the dev split).",
    no_args_is_help=True,
)
out = Console()

SPLITS = ("train", "dev")
ConfigOpt = Annotated[str, typer.Option("--config", help="cpu-small (this CPU) or gpu.")]
DevLimitOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Dev tasks the printed `kedrec eval adapter` command answers: the seeded subset "
        "`kedrec eval exprxrec --limit` answers.",
    ),
]


def _settings() -> Any:
    from kedrec_agent.config import get_settings

    return get_settings()


def _work(name: str) -> Path:
    """``KEDREC_HOME/training/<name>``, its folder created."""
    from training.tasks.files import training_dir

    path = training_dir(_settings()) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _tasks_file(split: str) -> Path:
    """Where the tasks of a split go by default (``kedrec eval adapter`` reads dev's there)."""
    from training.tasks.files import default_tasks_file

    return _work(default_tasks_file(split, _settings()).name)


def _split_inputs(split: str) -> tuple[SplitFiles, list[Path]]:
    """The files of a bundle split, and the disease lists it must avoid (the other split)."""
    from kedrec_agent.data.bundle import split_files

    if split not in SPLITS:
        from kedrec_agent.errors import InvalidInputError

        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    other = "dev" if split == "train" else "train"
    settings = _settings()
    return split_files(split, settings), [split_files(other, settings).diseases]


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
    from training.tasks.build import build_tasks
    from training.tasks.files import write_tasks
    from training.tasks.summary import summarize_tasks

    files, others = _split_inputs(split)
    built = build_tasks(
        diseases or files.diseases,
        indications or files.indications,
        rationales or files.rationales,
        negatives=negatives,
        per_disease=per_disease,
        seed=seed,
        split=split,
        forbidden=others if forbid is None else forbid,
        drop_forbidden=drop_forbidden or diseases is None,
    )
    path = output or _tasks_file(split)
    write_tasks(built, path)
    out.print(f"{summarize_tasks(built)}\n→ {path}", highlight=False)
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


def _sources(literature: bool, ranker: bool = True) -> Any:
    from kedrec_agent.config import get_settings
    from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
    from kedrec_agent.literature.search import LiteratureSearch
    from kedrec_agent.ranking.model import load_ranker
    from kedrec_agent.ranking.semantic import optional_similarity
    from kedrec_agent.reasoning.runtime import load_model
    from training.tasks.visible import Sources

    return Sources(
        kg=KnowledgeGraph.from_settings(),
        literature=LiteratureSearch.from_settings() if literature else None,
        model=load_model(),
        ranker=load_ranker() if ranker else None,
        names=optional_similarity(get_settings()) if ranker else None,
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
            help="Keep only tasks whose ranker probabilities or visible evidence favour the "
            "true drug (the others teach a choice the student cannot read from its prompt)."
        ),
    ] = True,
    ranker: Annotated[
        bool,
        typer.Option(help="Show the learned ranker's probabilities in the prompt (as served)."),
    ] = True,
) -> Path:
    """Run the agent's tools on each task (gold masked) and record the teacher's answers."""
    from training.collect import collect_traces
    from training.tasks.files import file_hash, read_tasks

    source = tasks_file or _tasks_file("train")
    todo = read_tasks(source)[:limit]
    path = output or _work("traces_train.jsonl")
    report = collect_traces(
        todo, path, _teacher(teacher), _sources(literature, ranker),
        tasks_hash=file_hash(source)[:16], consistent=consistent, workers=workers,
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
    from training.sft.trainer import train_adapter

    chosen = get_config(config)
    if max_steps is not None:
        chosen = chosen.model_copy(update={"max_steps": max_steps})
    folder = output or _work(f"adapters/{config}")
    report = train_adapter(traces or _work("traces_train.jsonl"), folder, chosen, resume=resume)
    out.print(report.model_dump_json(indent=1), highlight=False)
    return folder


@app.command(name="gguf-lora")
@_friendly
def gguf_lora(
    adapter: Annotated[Path, typer.Argument(help="PEFT LoRA adapter folder.")],
    output: Annotated[Path | None, typer.Option("--out", help="GGUF file to write.")] = None,
) -> Path:
    """Write a PEFT LoRA adapter as a GGUF LoRA for llama.cpp's server (kedrec serve-model).

    `kedrec train sft` writes it already; this converts an older adapter.
    """
    from training.sft.gguf_lora import to_gguf

    path = to_gguf(adapter, output)
    out.print(f"→ {path}")
    return path


@app.command(name="all")
@_friendly
def run_all(
    config: ConfigOpt = "cpu-small",
    install: Annotated[
        bool,
        typer.Option(
            help="Copy the adapter into the package (the default adapter); the printed dev "
            "check then records its figures in the installed copy's model card."
        ),
    ] = False,
    dev_limit: DevLimitOpt = 100,
) -> str:
    """Tasks (train and dev), traces, adapter; prints the dev check to run next.

    The dev check (base model vs the adapter, figures into the model card) is the
    evaluation harness's ``kedrec eval adapter``; the exact command is printed (and
    returned). With ``--install`` the adapter is copied into the package first.
    """
    from kedrec_agent.reasoning.runtime import PACKAGED_ADAPTER
    from training.configs import get_config

    chosen = get_config(config)
    train_tasks = tasks(split="train")
    traces = collect(tasks_file=train_tasks, limit=chosen.max_examples)
    folder = sft(config=config, traces=traces)
    dev_tasks = tasks(split="dev")
    if install:
        shutil.rmtree(PACKAGED_ADAPTER, ignore_errors=True)
        shutil.copytree(folder, PACKAGED_ADAPTER, ignore=shutil.ignore_patterns("checkpoints"))
        out.print(f"installed → {PACKAGED_ADAPTER}")
        folder = PACKAGED_ADAPTER
    line = shlex.join(
        ["kedrec", "eval", "adapter", "--adapter", str(folder), "--tasks", str(dev_tasks),
         "--limit", str(dev_limit)]
    )  # fmt: skip
    # soft_wrap: the command stays on one line, to be copied as it is
    out.print(f"next, the dev check (figures into the model card):\n{line}", highlight=False,
              soft_wrap=True)  # fmt: skip
    return line


@app.command(name="ranker")
@_friendly
def ranker_cmd(
    tasks_file: Annotated[
        Path | None,
        typer.Option("--tasks", help="Train-split tasks JSONL (default: built if missing)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Artifact JSON (default KEDREC_HOME/training/ranker/)."),
    ] = None,
    install: Annotated[
        bool,
        typer.Option(help="Copy the artifact and its card into the package (the shipped one)."),
    ] = False,
    seed: int = 0,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 2,
    literature: Annotated[bool, typer.Option(help="Include literature evidence.")] = True,
) -> Path:
    """Train the calibrated candidate ranker on train-split tasks (gold masked and visible).

    Refuses a task list that touches a dev disease. Evidence is gathered once and cached
    (KEDREC_HOME/training/ranker/); the dev check is
    `kedrec eval exprxrec --no-models --ranker [--ranker-artifact FILE]`.
    """
    from kedrec_agent.ranking.model import PACKAGED_RANKER
    from training.ranker import run
    from training.ranker_report import CARD_NAME
    from training.tasks.files import read_tasks

    source = tasks_file or _tasks_file("train")
    if tasks_file is None and not source.is_file():
        tasks(split="train")
    _, others = _split_inputs("train")
    path = output or _work("ranker/ranker.json")
    command = shlex.join(["kedrec", "train", "ranker", *sys.argv[3:]])
    result = run(
        read_tasks(source), path, forbidden=others, seed=seed, folds=folds, workers=workers,
        literature=literature, command=command, tasks_file=source,
    )  # fmt: skip
    for name, figures in result.cv.items():
        rep = figures["repurposing"]
        out.print(
            f"{name:>18}: CV accuracy {rep['accuracy']:.3f} log-loss {rep['nll']:.3f} "
            f"ECE {rep['ece10']:.3f}",
            highlight=False,
        )
    out.print(f"chosen by CV: {result.chosen} (best linear: {result.best_linear})\n→ {path}")
    if install:
        shutil.copyfile(path, PACKAGED_RANKER)
        shutil.copyfile(path.with_name(CARD_NAME), PACKAGED_RANKER.with_name(CARD_NAME))
        out.print(f"installed → {PACKAGED_RANKER}")
        path = PACKAGED_RANKER
    return path
