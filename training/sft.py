"""Supervised fine-tuning: teacher traces -> a LoRA adapter for the reasoning model.

Each trace becomes one example: the prompt exactly as serving builds it
(:meth:`Reasoner.prompt <kedrec_agent.reasoning.reasoner.Reasoner.prompt>`: chat template,
budgeted evidence, the answer prefix) and the teacher's completion followed by the EOS
token. The loss is on the completion only.

Tokenization is done here, not by TRL, so that the prompt's tokens are exactly the ones
serving feeds the model: ``add_special_tokens=False``, as :class:`Reasoner` encodes (the
chat template text already holds any BOS). TRL 1.16's prompt-completion string path calls
``tokenizer(text=prompt)`` and ``tokenizer(text=prompt + completion)`` with the default
``add_special_tokens=True``, which prepends a second BOS with tokenizers whose
post-processor adds one (Llama 3's; SmolLM2's adds none, and for it both ways give the same
ids), and it starts the completion where the two tokenizations diverge. Here the
completion (plus EOS) is tokenized on its own and appended, and the examples go to TRL's
``SFTTrainer`` pre-tokenized as ``input_ids`` plus a ``completion_mask``, which TRL turns
into ``-100`` labels on the prompt (``completion_only_loss=True``). Examples longer than
``max_length`` are dropped and counted, never truncated.

The adapter is written in bf16 safetensors with ``adapter_config.json``, a
``training_report.json`` and a model card, and loads with ``KEDREC_ADAPTER=<folder>``.
Checkpoints (to resume an interrupted run) go to its ``checkpoints`` sub-folder, which a
``.gitignore`` there keeps out of git.

Example:
    >>> report = train_adapter(Path("traces.jsonl"), Path("adapters/default"),
    ...                        get_config("cpu-small"))  # doctest: +SKIP
    >>> report.train_loss_last  # doctest: +SKIP
    0.41
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from kedrec_agent.agent.evidence import EVIDENCE_VERSION
from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import ConfigError, DataMissingError, InvalidInputError, KedrecError
from kedrec_agent.reasoning.prompts import PROMPT_VERSION
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel, load_uncached, model_path
from training.collect import file_hash
from training.configs import SFTSettings
from training.schema import Trace

if TYPE_CHECKING:
    from datasets import Dataset
    from trl.trainer.sft_trainer import SFTTrainer

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
"""Sub-folder of the output folder that holds the trainer's checkpoints."""

RUN_FILE = "kedrec-run.json"
"""What a checkpoint folder was made from (data hash, base model, settings)."""

REPORT_FILE = "training_report.json"

MAX_ADAPTER_BYTES = 10 * 1024 * 1024
"""Above this an adapter is too big to commit: a warning is logged."""

_RESUMABLE_CHANGES = frozenset({"epochs", "max_steps", "logging_steps", "save_steps"})
"""Settings that may differ between a checkpoint and the run resuming from it."""


class OutputError(KedrecError, OSError):
    """The adapter, checkpoints or report cannot be written (permissions, disk full)."""


class SFTReport(BaseModel):
    """What a fine-tuning run did.

    Attributes:
        examples: examples trained on (after dropping too long ones).
        dropped: traces dropped for exceeding ``max_length`` tokens.
        steps: optimizer steps in all, checkpointed runs included.
        steps_run: optimizer steps taken by this call (fewer when it resumed).
        resumed_from: the checkpoint this call resumed from, if any.
        epochs: the epochs trained (fractional when stopped mid-epoch).
        train_loss_first: the first logged training loss.
        train_loss_last: the last logged training loss.
        tokens_per_second: prompt and completion tokens processed by this call per
            second of training.
        seconds: wall time of this call's training loop.
        adapter_dir: where the adapter was written.
        adapter_bytes: size of the adapter weights file.
        data_hash: sha256 of the traces file.
        prompt_version: the prompt the traces (and so the adapter) use.
        evidence_version: how the agent gathered and worded the evidence in those prompts.
        base_model: the base checkpoint folder.
        config: the settings of the run.
    """

    examples: int
    dropped: int
    steps: int
    steps_run: int
    resumed_from: str | None = None
    epochs: float
    train_loss_first: float | None
    train_loss_last: float | None
    tokens_per_second: float
    seconds: float
    adapter_dir: Path
    adapter_bytes: int
    data_hash: str
    prompt_version: str = PROMPT_VERSION
    evidence_version: str = EVIDENCE_VERSION
    base_model: str
    config: SFTSettings
    dev_metrics: dict[str, float] = Field(
        default_factory=dict, description="filled in by a later evaluation step"
    )


def _validation_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{first['msg']}{more}"


def read_traces(path: Path) -> list[Trace]:
    """The traces of a JSONL file (blank lines skipped), checked against the prompt version.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a line is not a valid trace (the message names the line), a
            trace was collected with another prompt version, or the file holds no trace.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataMissingError(f"No traces file at {path}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read the traces file {path}: {exc}") from exc
    traces = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            trace = Trace.model_validate_json(line)
        except ValidationError as exc:
            raise InvalidInputError(
                f"{path}, line {number}: not a valid trace: {_validation_problem(exc)}"
            ) from None
        if trace.prompt_version != PROMPT_VERSION:
            raise InvalidInputError(
                f"{path}, line {number}: trace {trace.task_id!r} was collected with prompt "
                f"{trace.prompt_version!r}, but this code's prompt is {PROMPT_VERSION!r}; "
                "collect the traces again with this version."
            )
        traces.append(trace)
    if not traces:
        raise InvalidInputError(f"no traces in {path}")
    return traces


def load_base(config: SFTSettings, settings: Settings | None = None) -> ReasoningModel:
    """The base model and its serving tokenizer, in float, unquantised, without adapter.

    A fresh copy, not the process-wide one of :func:`~kedrec_agent.reasoning.runtime.load_model`
    (training adds LoRA layers to it in place).

    Raises:
        ConfigError: the checkpoint is missing, unloadable or not LLaMA-architecture.
    """
    settings = settings or get_settings()
    base = dataclasses.replace(
        settings,
        model=config.base_model or settings.model,
        adapter=None,
        model_dtype=config.dtype,
        model_quant="none",
    )
    model = load_uncached(model_path(base), None, base.model_dtype, base.model_quant)
    if model.tokenizer.eos_token is None:
        raise ConfigError(f"The tokenizer of {model.path} has no EOS token to end answers with.")
    return model


def encode_example(model: ReasoningModel, trace: Trace) -> dict[str, list[int]]:
    """One trace as token ids and a completion mask, tokenized as serving tokenizes.

    The prompt is :meth:`Reasoner.prompt` of the trace's task, tokenized without added
    special tokens (as :class:`Reasoner` does); the completion is the trace's completion
    plus the EOS token, tokenized on its own and appended.

    Returns:
        ``input_ids`` (prompt then completion) and ``completion_mask`` (1 on the
        completion's tokens, EOS included, 0 on the prompt's).
    """
    tokenizer = model.tokenizer
    prompt, _ = Reasoner(model).prompt(trace.reasoning_task)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    completion = trace.completion + str(tokenizer.eos_token)
    completion_ids = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    return {
        "input_ids": prompt_ids + completion_ids,
        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids),
    }


def build_dataset(
    model: ReasoningModel, traces: list[Trace], max_length: int
) -> tuple[Dataset, int]:
    """The tokenized training examples and how many were dropped as too long.

    Raises:
        InvalidInputError: every example is longer than ``max_length`` tokens.
    """
    from datasets import Dataset

    rows = [encode_example(model, trace) for trace in traces]
    kept = [row for row in rows if len(row["input_ids"]) <= max_length]
    dropped = len(rows) - len(kept)
    if dropped:
        log.warning(
            "%d of %d traces exceed %d tokens and are dropped", dropped, len(rows), max_length
        )
    if not kept:
        longest = max(len(row["input_ids"]) for row in rows)
        raise InvalidInputError(
            f"All {len(rows)} traces exceed max_length={max_length} tokens (the shortest "
            f"has {min(len(row['input_ids']) for row in rows)}, the longest {longest})."
        )
    return Dataset.from_list(kept), dropped


@contextlib.contextmanager
def _dataset_progress(progress: bool) -> Iterator[None]:
    """Without ``progress``, the ``datasets`` progress bars off for the block (then restored)."""
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    restore = not progress and not are_progress_bars_disabled()
    if restore:
        disable_progress_bars()
    try:
        yield
    finally:
        if restore:
            enable_progress_bars()


def _lora_config(config: SFTSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def optimizer_steps(examples: int, config: SFTSettings) -> int:
    """The run's optimizer steps: ``epochs`` of ``examples``, capped by ``max_steps``.

    Counted as the transformers ``Trainer`` counts them (a last, partial accumulation
    makes a step).
    """
    batches = math.ceil(examples / config.batch_size)
    per_epoch = max(math.ceil(batches / config.gradient_accumulation), 1)
    steps = math.ceil(config.epochs * per_epoch)
    return min(steps, config.max_steps) if config.max_steps is not None else steps


def make_trainer(
    model: ReasoningModel,
    dataset: Dataset,
    checkpoints: Path,
    config: SFTSettings,
    progress: bool = True,
) -> SFTTrainer:
    """An ``SFTTrainer`` of a LoRA adapter on ``model`` over the pre-tokenized ``dataset``.

    Args:
        model: the base model (see :func:`load_base`); LoRA layers are added in place.
        dataset: ``input_ids`` and ``completion_mask`` columns (see :func:`build_dataset`).
        checkpoints: the folder of the trainer's checkpoints.
        config: the run's settings.
        progress: show the trainer's progress bar.
    """
    import torch
    from transformers import PrinterCallback, set_seed
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    set_seed(config.seed)
    args = SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=optimizer_steps(len(dataset), config),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,
        weight_decay=0.0,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        bf16=config.dtype == "bfloat16",
        fp16=False,
        use_cpu=model.device == "cpu",
        activation_checkpointing=config.gradient_checkpointing,
        max_length=config.max_length,
        completion_only_loss=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        report_to=[],
        disable_tqdm=not progress,
    )
    with torch.enable_grad(), _dataset_progress(progress):
        trainer = SFTTrainer(
            model=model.model,
            args=args,
            train_dataset=dataset,
            processing_class=model.tokenizer,
            peft_config=_lora_config(config),
        )
    if not progress:
        trainer.remove_callback(PrinterCallback)  # it prints every log line without a bar
    return trainer


def _run_record(data_hash: str, base: Path, config: SFTSettings) -> dict[str, Any]:
    settings = config.model_dump(mode="json", exclude=set(_RESUMABLE_CHANGES))
    return {"data_hash": data_hash, "base_model": str(base), "config": settings}


def _checkpoint_to_resume(checkpoints: Path, resume: bool, record: dict[str, Any]) -> Path | None:
    """The last checkpoint if resuming and it was made by the same run, else a clean start.

    Raises:
        InvalidInputError: the checkpoints were made from other data, model or settings.
        OutputError: the checkpoint folder cannot be written.
    """
    from transformers.trainer_utils import get_last_checkpoint

    try:
        if not resume and checkpoints.exists():
            shutil.rmtree(checkpoints)
        checkpoints.mkdir(parents=True, exist_ok=True)
        run_file = checkpoints / RUN_FILE
        last = get_last_checkpoint(str(checkpoints))
        if last is not None:
            previous = json.loads(run_file.read_text()) if run_file.is_file() else None
            if previous != record:
                raise InvalidInputError(
                    f"The checkpoints in {checkpoints} were made from other traces, another "
                    "base model or other settings; train with resume=False to start over."
                )
            return Path(last)
        run_file.write_text(json.dumps(record, indent=2))
    except OSError as exc:
        raise OutputError(f"Cannot write checkpoints to {checkpoints}: {exc}") from exc
    return None


class _Meter:
    """Trainer callback state: step and token counts and time of this call's loop."""

    def __init__(self) -> None:
        self.start_step = self.end_step = 0
        self.start_tokens = self.end_tokens = 0
        self.started = self.ended = 0.0

    def callback(self) -> Any:
        from transformers import TrainerCallback

        meter = self

        class MeterCallback(TrainerCallback):  # type: ignore[misc]
            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                meter.start_step, meter.start_tokens = (
                    state.global_step,
                    state.num_input_tokens_seen,
                )
                meter.started = time.perf_counter()

            def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                meter.end_step, meter.end_tokens = state.global_step, state.num_input_tokens_seen
                meter.ended = time.perf_counter()

        return MeterCallback()


def _save_adapter(trainer: SFTTrainer, out_dir: Path, base: Path) -> int:
    """Write the LoRA weights in bf16 and ``adapter_config.json``; the weights' size."""
    import torch

    peft_model = trainer.model
    for name, parameter in peft_model.named_parameters():
        if "lora_" in name:
            parameter.data = parameter.data.to(torch.bfloat16)
    for adapter_config in peft_model.peft_config.values():
        adapter_config.base_model_name_or_path = base.name  # no local path in a committed file
    peft_model.save_pretrained(str(out_dir), safe_serialization=True, save_embedding_layers=False)
    return (out_dir / "adapter_model.safetensors").stat().st_size


def _losses(trainer: SFTTrainer) -> list[float]:
    return [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]


def model_card(report: SFTReport) -> str:
    """The adapter's README.md: what it was trained on, how, and how to use it."""
    config = json.dumps(report.config.model_dump(mode="json"), indent=2)

    def loss(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    if report.dev_metrics:
        dev = "\n".join(f"- {name}: {value:.4f}" for name, value in report.dev_metrics.items())
    else:
        dev = "Not measured yet."
    return f"""# LoRA adapter for the KEDRec reasoning model

Decision support for clinicians, not a prescription.

- Base model: `{Path(report.base_model).name}` (LLaMA architecture)
- Prompt version: `{report.prompt_version}` (the adapter must be used with this prompt),
  evidence `{report.evidence_version}`
- Configuration: `{report.config.name}`
- Training data: sha256 `{report.data_hash}`, {report.examples + report.dropped} traces,
  {report.examples} trained on, {report.dropped} dropped as longer than
  {report.config.max_length} tokens
- Optimizer steps: {report.steps} ({report.epochs:.2f} epochs)
- Train loss: first {loss(report.train_loss_first)}, last {loss(report.train_loss_last)}
- Throughput: {report.tokens_per_second:.0f} tokens/s; wall time {report.seconds:.0f} s
- Adapter weights: {report.adapter_bytes / 1e6:.1f} MB (bf16 safetensors)

Use it with `KEDREC_ADAPTER=<this folder>`.

## Dev metrics

{dev}

## Configuration

```json
{config}
```
"""


def _write_outputs(out_dir: Path, report: SFTReport) -> None:
    (out_dir / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n")
    (out_dir / "README.md").write_text(model_card(report))
    # the adapter folder may be committed; its checkpoints (~30 MB each) must not be
    (out_dir / ".gitignore").write_text(f"{CHECKPOINTS}/\n")


def train_adapter(
    traces: Path,
    out_dir: Path,
    config: SFTSettings,
    settings: Settings | None = None,
    resume: bool = True,
    progress: bool = True,
) -> SFTReport:
    """Fine-tune a LoRA adapter on ``traces`` and write it to ``out_dir``.

    Args:
        traces: the teacher traces (JSONL of :class:`training.schema.Trace`).
        out_dir: where the adapter, ``training_report.json``, the model card and the
            ``checkpoints`` folder go.
        config: the run's settings (see :mod:`training.configs`).
        settings: whose ``model`` is the base when ``config.base_model`` is unset
            (default: the process settings).
        resume: continue from the last checkpoint in ``out_dir/checkpoints`` if there is
            one; ``False`` deletes the checkpoints and starts over.
        progress: show progress bars.

    Returns:
        What the run did (also written to ``out_dir/training_report.json``).

    Raises:
        DataMissingError: the traces file does not exist.
        InvalidInputError: the traces are invalid, of another prompt version, absent or
            all too long, or the checkpoints come from another run.
        ConfigError: the base model is missing, unloadable or not LLaMA-architecture.
        OutputError: ``out_dir`` cannot be written (permissions, disk full).
    """
    import torch

    records = read_traces(traces)
    if config.max_examples is not None:
        records = records[: config.max_examples]
    data_hash = file_hash(traces)
    model = load_base(config, settings)
    dataset, dropped = build_dataset(model, records, config.max_length)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the adapter folder {out_dir}: {exc}") from exc
    checkpoints = out_dir / CHECKPOINTS
    last = _checkpoint_to_resume(checkpoints, resume, _run_record(data_hash, model.path, config))
    if last is not None:
        log.info("resuming from %s", last)
    meter = _Meter()
    trainer = make_trainer(model, dataset, checkpoints, config, progress)
    trainer.add_callback(meter.callback())
    try:
        with torch.enable_grad():
            trainer.train(resume_from_checkpoint=str(last) if last is not None else None)
        adapter_bytes = _save_adapter(trainer, out_dir, model.path)
        if adapter_bytes > MAX_ADAPTER_BYTES:
            log.warning(
                "the adapter is %.1f MB: too big to commit (lower lora_r)", adapter_bytes / 1e6
            )
        seconds = meter.ended - meter.started
        losses = _losses(trainer)
        report = SFTReport(
            examples=len(dataset),
            dropped=dropped,
            steps=trainer.state.global_step,
            steps_run=meter.end_step - meter.start_step,
            resumed_from=last.name if last is not None else None,
            epochs=float(trainer.state.epoch or 0.0),
            train_loss_first=losses[0] if losses else None,
            train_loss_last=losses[-1] if losses else None,
            tokens_per_second=(meter.end_tokens - meter.start_tokens) / seconds if seconds else 0.0,
            seconds=seconds,
            adapter_dir=out_dir,
            adapter_bytes=adapter_bytes,
            data_hash=data_hash,
            base_model=str(model.path),
            config=config,
        )
        _write_outputs(out_dir, report)
    except OSError as exc:
        raise OutputError(f"Cannot write the adapter to {out_dir}: {exc}") from exc
    return report


__all__ = [
    "OutputError",
    "SFTReport",
    "build_dataset",
    "encode_example",
    "file_hash",
    "load_base",
    "make_trainer",
    "model_card",
    "optimizer_steps",
    "read_traces",
    "train_adapter",
]
