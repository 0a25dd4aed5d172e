"""What a fine-tuning run did, and the adapter's model card.

:func:`write_outputs` writes ``training_report.json`` (:class:`SFTReport`), the model card
(``README.md``, :func:`model_card`) and a ``.gitignore`` that keeps the ``checkpoints``
sub-folder out of git; :func:`record_dev_metrics` adds the dev figures of a later
evaluation (``kedrec eval adapter``) to both.

Example:
    >>> print(model_card(SFTReport.model_validate_json(path.read_text())))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from kedrec_agent.agent.evidence import EVIDENCE_VERSION
from kedrec_agent.reasoning.prompts import PROMPT_VERSION
from training.configs import SFTSettings

CHECKPOINTS = "checkpoints"
"""Sub-folder of the output folder that holds the trainer's checkpoints."""

REPORT_FILE = "training_report.json"


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
        teachers: who wrote the traces' answers (name and version).
        ranker_shown: traces whose prompt showed the learned ranker's probabilities.
        base_model: the base checkpoint folder.
        config: the settings of the run.
        weights_sha256: sha256 of the PEFT weights (``adapter_model.safetensors``).
        gguf_lora: the GGUF LoRA file written beside them (for llama.cpp's server), if any.
        gguf_sha256: its sha256.
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
    teachers: list[str] = Field(default_factory=list)
    ranker_shown: int = 0
    base_model: str
    config: SFTSettings
    weights_sha256: str | None = None
    gguf_lora: str | None = None
    gguf_sha256: str | None = None
    dev_metrics: dict[str, float] = Field(
        default_factory=dict, description="filled in by a later evaluation step"
    )


def model_card(report: SFTReport) -> str:
    """The adapter's README.md: what it was trained on, how, and how to use it."""
    config = json.dumps(report.config.model_dump(mode="json"), indent=2)

    def loss(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    forms = f"- PEFT weights sha256 `{report.weights_sha256 or 'not recorded'}`"
    if report.gguf_lora:
        forms += f"\n- GGUF LoRA `{report.gguf_lora}` (f16), sha256 `{report.gguf_sha256}`"
    else:
        forms += "\n- GGUF LoRA: not written"
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
- Teacher: {", ".join(f"`{t}`" for t in report.teachers) or "not recorded"}
- Ranker probabilities in the prompt: {report.ranker_shown} of the traces
- Training data: sha256 `{report.data_hash}`, {report.examples + report.dropped} traces,
  {report.examples} trained on, {report.dropped} dropped as longer than
  {report.config.max_length} tokens
- Optimizer steps: {report.steps} ({report.epochs:.2f} epochs)
- Train loss: first {loss(report.train_loss_first)}, last {loss(report.train_loss_last)}
- Throughput: {report.tokens_per_second:.0f} tokens/s; wall time {report.seconds:.0f} s
- Adapter weights: {report.adapter_bytes / 1e6:.1f} MB (bf16 safetensors)

{forms}

Use it with `KEDREC_ADAPTER=<this folder>` (the local model), or serve the GGUF LoRA with
`kedrec serve-model --lora <this folder>/{report.gguf_lora or "<file>.gguf"}` and set
`KEDREC_REASONER_BACKEND=openai` (see the README's serving recipes).

## Dev metrics

{dev}

## Configuration

```json
{config}
```
"""


def write_outputs(out_dir: Path, report: SFTReport) -> None:
    """Write the report, the model card and the ``.gitignore`` of the adapter folder."""
    (out_dir / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n")
    (out_dir / "README.md").write_text(model_card(report))
    # the adapter folder may be committed; its checkpoints (~30 MB each) must not be
    (out_dir / ".gitignore").write_text(f"{CHECKPOINTS}/\n")


def record_dev_metrics(adapter: Path, figures: dict[str, dict[str, Any]]) -> None:
    """Write dev figures into an adapter's report and model card.

    Args:
        adapter: the adapter folder (one without ``training_report.json`` is left alone).
        figures: per model (``base``, ``adapter``; ``adapter_all`` for all the tasks), its
            figures by name; recorded as ``<model>_<figure>``, beside earlier figures
            under other names.
    """
    metrics = {
        f"{name}_{key}": float(value)
        for name, values in figures.items()
        for key, value in values.items()
    }
    report_path = adapter / REPORT_FILE
    if report_path.is_file():
        report = SFTReport.model_validate_json(report_path.read_text())
        merged = {**report.dev_metrics, **metrics}  # a later check keeps the others' figures
        report = report.model_copy(update={"dev_metrics": merged})
        report_path.write_text(report.model_dump_json(indent=1))
        (adapter / "README.md").write_text(model_card(report))
