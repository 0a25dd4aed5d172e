"""The LoRA run: base model, TRL ``SFTTrainer``, checkpoints, and the adapter written.

:func:`train_adapter` reads the traces, tokenizes them (:mod:`training.sft.examples`),
fine-tunes a LoRA adapter on the base model and writes it. The adapter is written in bf16
safetensors with ``adapter_config.json``, a ``training_report.json`` and a model card
(:mod:`training.sft.report`), and loads with ``KEDREC_ADAPTER=<folder>``. Checkpoints (to
resume an interrupted run) go to its ``checkpoints`` sub-folder, which a ``.gitignore``
there keeps out of git.

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

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import ConfigError, InvalidInputError, KedrecError
from kedrec_agent.reasoning.ranking import ranked_by_ranker
from kedrec_agent.reasoning.runtime import ReasoningModel, load_uncached, model_path
from training.configs import SFTSettings
from training.sft.examples import build_dataset, read_traces
from training.sft.gguf_lora import to_gguf
from training.sft.report import CHECKPOINTS, SFTReport, write_outputs
from training.tasks.files import file_hash

if TYPE_CHECKING:
    from datasets import Dataset
    from trl.trainer.sft_trainer import SFTTrainer

log = logging.getLogger(__name__)

RUN_FILE = "kedrec-run.json"
"""What a checkpoint folder was made from (data hash, base model, settings)."""

MAX_ADAPTER_BYTES = 10 * 1024 * 1024
"""Above this an adapter is too big to commit: a warning is logged."""

_RESUMABLE_CHANGES = frozenset({"epochs", "max_steps", "logging_steps", "save_steps"})
"""Settings that may differ between a checkpoint and the run resuming from it."""


class OutputError(KedrecError, OSError):
    """The adapter, checkpoints or report cannot be written (permissions, disk full)."""


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


def _gguf_form(out_dir: Path, model: ReasoningModel) -> Path | None:
    """The adapter also as a GGUF LoRA (llama.cpp's server), or None if it cannot be."""
    config = model.model.config
    heads = (int(config.num_attention_heads), int(config.num_key_value_heads))
    try:
        return to_gguf(out_dir, heads=heads)
    except ConfigError as exc:  # an adapter llama.cpp cannot take: the PEFT form only
        log.warning("no GGUF LoRA written: %s", exc)
        return None


def _losses(trainer: SFTTrainer) -> list[float]:
    return [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]


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
        traces: the teacher traces (JSONL of :class:`training.tasks.schema.Trace`).
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
        gguf = _gguf_form(out_dir, model)
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
            teachers=sorted({t.teacher for t in records}),
            ranker_shown=sum(ranked_by_ranker(t.reasoning_task) for t in records),
            base_model=str(model.path),
            config=config,
            weights_sha256=file_hash(out_dir / "adapter_model.safetensors"),
            gguf_lora=gguf.name if gguf else None,
            gguf_sha256=file_hash(gguf) if gguf else None,
        )
        write_outputs(out_dir, report)
    except OSError as exc:
        raise OutputError(f"Cannot write the adapter to {out_dir}: {exc}") from exc
    return report
