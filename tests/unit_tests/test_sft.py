"""LoRA fine-tuning (training/sft/) on a tiny, randomly initialised LlamaForCausalLM."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError, DataMissingError, InvalidInputError
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX, PROMPT_VERSION, SYSTEM
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import load_model
from kedrec_agent.reasoning.schema import (
    Candidate,
    EntityRef,
    Evidence,
    PatientView,
    ReasoningTask,
)
from tests.tiny_llama import write_tiny_llama
from training.configs import CONFIGS, SFTSettings, get_config
from training.sft.examples import build_dataset, encode_example, read_traces
from training.sft.gguf_lora import GGUF_NAME
from training.sft.report import SFTReport
from training.sft.trainer import (
    OutputError,
    load_base,
    make_trainer,
    optimizer_steps,
    train_adapter,
)
from training.tasks.files import file_hash
from training.tasks.schema import Trace

DRUGS = [("DB00619", "Imatinib"), ("DB01254", "Dasatinib")]


def _task(evidence: int, seed: int) -> ReasoningTask:
    items = [
        Evidence(
            id=f"E{i + 1}",
            kind="kg" if i % 2 == 0 else "literature",
            text=f"Fact {seed}.{i + 1} about {DRUGS[i % 2][1]} in chronic myeloid leukemia "
            + "with detail " * i,
            drugs=[DRUGS[i % 2][0]],
            citation=None if i % 2 == 0 else f"PMID:{1000 + i}",
            priority=float(evidence - i),
        )
        for i in range(evidence)
    ]
    return ReasoningTask(
        patient=PatientView(
            conditions=[EntityRef(id="MESH:D015464", name="Chronic myeloid leukemia")], age=50
        ),
        candidates=[Candidate(id=drug, name=name) for drug, name in DRUGS],
        evidence=items,
        max_choices=1,
    )


def _trace(seed: int, evidence: int = 2) -> Trace:
    drug = DRUGS[seed % 2][0]
    cite = "E1" if seed % 2 == 0 else "E2"
    completion = (
        f'{drug}", "rationale": "Treats it [{cite}].", "evidence": ["{cite}"]}}], '
        '"confidence": 0.8}'
    )
    return Trace(
        task_id=f"task-{seed}",
        positive=drug,
        reasoning_task=_task(evidence, seed),
        completion=completion,
        evidence_ids=[cite],
        teacher="test",
        prompt_version=PROMPT_VERSION,
    )


def _write(path: Path, traces: list[Trace]) -> Path:
    path.write_text("".join(t.model_dump_json() + "\n" for t in traces))
    return path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LLaMA checkpoint with a byte-level BPE tokenizer trained here (seconds)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    corpus = [SYSTEM, _trace(0).model_dump_json(), _trace(1).model_dump_json(), ANSWER_PREFIX]
    return write_tiny_llama(folder, corpus)


@pytest.fixture(scope="module")
def settings(tiny_dir: Path) -> Settings:
    return Settings(data_dir=Path("."), home=tiny_dir.parent, model=tiny_dir)


@pytest.fixture(scope="module")
def config() -> SFTSettings:
    """Two optimizer steps of two examples, a checkpoint after each."""
    return SFTSettings(
        name="test",
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        epochs=1,
        batch_size=2,
        gradient_accumulation=1,
        max_length=800,
        logging_steps=1,
        save_steps=1,
    )


@pytest.fixture(scope="module")
def traces_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the last trace's prompt is far longer than max_length=800: dropped
    traces = [_trace(seed) for seed in range(4)] + [_trace(4, evidence=40)]
    return _write(tmp_path_factory.mktemp("traces") / "traces.jsonl", traces)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
    traces_file: Path,
    config: SFTSettings,
    settings: Settings,
) -> SFTReport:
    out = tmp_path_factory.mktemp("adapter") / "adapter"
    return train_adapter(traces_file, out, config, settings, progress=False)


# --- configurations -------------------------------------------------------------------


def test_named_configs() -> None:
    assert set(CONFIGS) == {"cpu-small", "gpu"}
    small, gpu = get_config("cpu-small"), get_config("gpu")
    assert small.base_model is None and "down_proj" in small.target_modules
    assert gpu.dtype == "bfloat16" and gpu.lora_r > small.lora_r
    with pytest.raises(ConfigError, match="known: cpu-small, gpu"):
        get_config("tpu")
    with pytest.raises(ValueError, match="extra"):
        SFTSettings.model_validate({"name": "x", "rank": 4})


def test_optimizer_steps_follow_epochs_capped_by_max_steps(config: SFTSettings) -> None:
    assert optimizer_steps(4, config) == 2  # batch 2, no accumulation
    assert optimizer_steps(5, config.model_copy(update={"epochs": 2})) == 6
    assert optimizer_steps(5, config.model_copy(update={"epochs": 2, "max_steps": 4})) == 4
    small = get_config("cpu-small")
    cap = small.max_steps
    assert cap is not None and optimizer_steps(3, small) == 1  # a cap, not a target
    assert optimizer_steps(400, small) == min(50, cap) and optimizer_steps(600, small) == cap


# --- tokenization and the loss mask ---------------------------------------------------


def test_examples_are_tokenized_as_serving_and_only_the_completion_is_learned(
    settings: Settings, config: SFTSettings, tmp_path: Path
) -> None:
    model = load_base(config, settings)
    tokenizer = model.tokenizer
    traces = [_trace(0), _trace(1, evidence=3)]
    example = encode_example(model, traces[0])
    prompt, _ = Reasoner(model).prompt(traces[0].reasoning_task)
    served = tokenizer(prompt, add_special_tokens=False)["input_ids"]  # as Reasoner._encode
    ids, mask = example["input_ids"], example["completion_mask"]
    assert ids[: len(served)] == served and mask == [0] * len(served) + [1] * (
        len(ids) - len(served)
    )
    assert tokenizer.decode(ids[len(served) :]) == traces[0].completion + "<|im_end|>"
    assert ids[-1] == tokenizer.eos_token_id

    dataset, dropped = build_dataset(model, traces, max_length=800)
    trainer = make_trainer(model, dataset, tmp_path / "checkpoints", config, progress=False)
    for row, trace in zip(trainer.train_dataset, traces, strict=True):
        expected = encode_example(model, trace)
        assert row["input_ids"] == expected["input_ids"]  # nothing added, nothing truncated
        labels = [
            -100 if m == 0 else t
            for t, m in zip(row["input_ids"], expected["completion_mask"], strict=True)
        ]
        assert row["labels"] == labels
    batch = trainer.data_collator(list(trainer.train_dataset))
    learned = batch["labels"] != -100
    assert int(learned.sum()) == sum(
        sum(encode_example(model, t)["completion_mask"]) for t in traces
    )
    assert int(batch["attention_mask"].sum()) == sum(
        len(r["input_ids"]) for r in trainer.train_dataset
    )
    assert dropped == 0


# --- a training run -------------------------------------------------------------------


def test_training_writes_a_small_bf16_adapter_with_trained_weights(trained: SFTReport) -> None:
    out = trained.adapter_dir
    assert (trained.examples, trained.dropped, trained.steps, trained.steps_run) == (4, 1, 2, 2)
    assert trained.train_loss_first is not None and trained.train_loss_last is not None
    assert trained.tokens_per_second > 0 and trained.resumed_from is None
    weights = out / "adapter_model.safetensors"
    assert (out / "adapter_config.json").is_file() and weights.stat().st_size < 200_000
    tensors = load_file(weights)
    b = [t for name, t in tensors.items() if "lora_B" in name]
    assert b and all(t.dtype == torch.bfloat16 for t in tensors.values())
    assert all(bool(t.abs().sum() > 0) for t in b)  # LoRA B starts at zero
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    base_name = Path(trained.base_model).name
    assert adapter_config["r"] == 4 and adapter_config["base_model_name_or_path"] == base_name
    report = SFTReport.model_validate_json((out / "training_report.json").read_text())
    assert report.data_hash == trained.data_hash and len(report.data_hash) == 64
    card = (out / "README.md").read_text()
    assert "Dev metrics\n\nNot measured yet." in card and trained.data_hash in card
    assert PROMPT_VERSION in card and "1 dropped" in card
    assert (out / ".gitignore").read_text() == "checkpoints/\n"
    assert (out / "checkpoints" / "checkpoint-2").is_dir()


def test_dev_checks_add_their_figures_to_the_card(trained: SFTReport, tmp_path: Path) -> None:
    from training.sft.report import record_dev_metrics

    shutil.copy(trained.adapter_dir / "training_report.json", tmp_path)
    record_dev_metrics(tmp_path, {"base": {"accuracy": 0.4}, "adapter": {"accuracy": 0.5}})
    record_dev_metrics(tmp_path, {"adapter_all": {"accuracy": 0.55, "rougeL": 0.1}})
    report = SFTReport.model_validate_json((tmp_path / "training_report.json").read_text())
    assert report.dev_metrics == {
        "base_accuracy": 0.4,
        "adapter_accuracy": 0.5,
        "adapter_all_accuracy": 0.55,
        "adapter_all_rougeL": 0.1,
    }
    assert "- adapter_all_accuracy: 0.5500" in (tmp_path / "README.md").read_text()


def test_training_also_writes_the_gguf_lora_with_both_hashes(trained: SFTReport) -> None:
    import gguf

    out = trained.adapter_dir
    assert trained.gguf_lora == GGUF_NAME and trained.gguf_sha256 == file_hash(out / GGUF_NAME)
    assert trained.weights_sha256 == file_hash(out / "adapter_model.safetensors")
    card = (out / "README.md").read_text()
    assert trained.gguf_sha256 in card and trained.weights_sha256 in card
    reader = gguf.GGUFReader(str(out / GGUF_NAME))
    alpha = reader.fields["adapter.lora.alpha"]
    assert float(alpha.parts[alpha.data[0]][0]) == 8.0
    peft = load_file(out / "adapter_model.safetensors")
    names = {t.name for t in reader.tensors}
    assert len(names) == len(peft)  # every A and B matrix, under llama.cpp's names
    v_b = next(t for t in reader.tensors if t.name == "blk.0.attn_v.weight.lora_b")
    expected = next(t for n, t in peft.items() if "layers.0.self_attn.v_proj.lora_B" in n)
    assert torch.allclose(torch.from_numpy(v_b.data.astype("float32")).reshape(expected.shape),
                          expected.float(), atol=1e-2)  # fmt: skip


def test_the_adapter_loads_with_the_runtime_and_changes_outputs(
    trained: SFTReport, settings: Settings
) -> None:
    from peft import PeftModel

    plain = load_model(replace(settings, model_dtype="float32", model_quant="none"))
    adapted = load_model(
        replace(settings, adapter=trained.adapter_dir, model_dtype="float32", model_quant="none")
    )
    assert isinstance(adapted.model, PeftModel) and not isinstance(plain.model, PeftModel)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        before = plain.model(input_ids=ids).logits
        after = adapted.model(input_ids=ids).logits
    assert not torch.allclose(before, after, atol=1e-4)


def test_resume_continues_from_the_last_checkpoint(
    trained: SFTReport, traces_file: Path, config: SFTSettings, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "adapter"
    shutil.copytree(trained.adapter_dir, out)
    again = train_adapter(traces_file, out, config, settings, progress=False)
    assert (again.steps, again.steps_run, again.resumed_from) == (2, 0, "checkpoint-2")
    assert again.train_loss_first == trained.train_loss_first  # the history is kept
    longer = config.model_copy(update={"epochs": 2})
    more = train_adapter(traces_file, out, longer, settings, progress=False)
    assert (more.steps, more.steps_run, more.resumed_from) == (4, 2, "checkpoint-2")
    other = config.model_copy(update={"lora_r": 8})
    with pytest.raises(InvalidInputError, match="resume=False"):
        train_adapter(traces_file, out, other, settings, progress=False)


# --- errors ---------------------------------------------------------------------------


def test_bad_traces_are_clear_errors(
    tmp_path: Path, config: SFTSettings, settings: Settings
) -> None:
    out = tmp_path / "out"
    good = _trace(0).model_dump_json()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f"{good}\n\n{{not json\n")
    with pytest.raises(InvalidInputError, match=r"bad\.jsonl, line 3: not a valid trace"):
        train_adapter(bad, out, config, settings)
    wrong = tmp_path / "wrong.jsonl"
    old = _trace(1).model_copy(update={"prompt_version": "reason-v0"})
    wrong.write_text(f"{good}\n{old.model_dump_json()}\n")
    with pytest.raises(InvalidInputError, match=rf"line 2: .*'reason-v0'.*'{PROMPT_VERSION}'"):
        train_adapter(wrong, out, config, settings)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InvalidInputError, match="no traces in"):
        read_traces(empty)
    with pytest.raises(DataMissingError):
        read_traces(tmp_path / "missing.jsonl")
    assert not out.exists()


def test_bad_models_and_outputs_are_clear_errors(
    tmp_path: Path, traces_file: Path, config: SFTSettings, settings: Settings
) -> None:
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match="LLaMA-architecture"):
        train_adapter(
            traces_file, tmp_path / "a", config.model_copy(update={"base_model": gpt}), settings
        )
    with pytest.raises(ConfigError, match=r"config\.json missing"):
        train_adapter(
            traces_file,
            tmp_path / "a",
            config.model_copy(update={"base_model": tmp_path}),
            settings,
        )
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="Cannot create the adapter folder"):
        train_adapter(traces_file, blocker / "adapter", config, settings)
    with pytest.raises(InvalidInputError, match="All 5 traces exceed max_length=20"):
        train_adapter(
            traces_file, tmp_path / "a", config.model_copy(update={"max_length": 20}), settings
        )
