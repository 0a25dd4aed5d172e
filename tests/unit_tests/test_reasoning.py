"""The reasoning node on a tiny, randomly initialised LlamaForCausalLM built in the test."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError
from kedrec_agent.reasoning import bf16_decode, int4
from kedrec_agent.reasoning.constrained import task_schema
from kedrec_agent.reasoning.local import LocalBackend, json_closed
from kedrec_agent.reasoning.output import parse_answer, recommendation_from_text
from kedrec_agent.reasoning.prompts import ANSWER_PREFIX, PROMPT_VERSION, build_messages
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel, load_model, packaged_gguf
from kedrec_agent.reasoning.schema import (
    Candidate,
    EntityRef,
    Evidence,
    PatientView,
    ReasoningTask,
    Recommendation,
)
from tests.tiny_llama import write_tiny_llama


def _task(evidence: int = 4, max_choices: int = 2) -> ReasoningTask:
    items = [
        Evidence(
            id=f"E{i + 1}",
            kind="kg" if i % 2 == 0 else "literature",
            text=f"Fact number {i + 1} about {'imatinib' if i % 2 == 0 else 'dasatinib'} "
            "in chronic myeloid leukemia " + "with detail " * (3 * i),
            drugs=["DB00619" if i % 2 == 0 else "DB01254"],
            citation=None if i % 2 == 0 else f"PMID:{1000 + i}",
            priority=float(evidence - i),
        )
        for i in range(evidence)
    ]
    return ReasoningTask(
        patient=PatientView(
            conditions=[EntityRef(id="MESH:D015464", name="Chronic myeloid leukemia")],
            age=54,
            sex="female",
        ),
        candidates=[
            Candidate(id="DB00619", name="Imatinib"),
            Candidate(id="DB01254", name="Dasatinib"),
        ],
        evidence=items,
        max_choices=max_choices,
    )


def _words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LLaMA checkpoint with a byte-level BPE tokenizer trained here (seconds)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    corpus = [_task().model_dump_json(), ANSWER_PREFIX, '"DB00619" "DB01254" E1 E2 E3 E4 ]} 0.5']
    return write_tiny_llama(folder, corpus)


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> ReasoningModel:
    return load_model(
        Settings(data_dir=Path("."), home=tiny_dir.parent, model=tiny_dir, model_dtype="float32")
    )


# --- prompts --------------------------------------------------------------------------


def test_prompt_lists_patient_candidates_and_evidence() -> None:
    messages, kept = build_messages(_task(), _words, budget=10_000)
    user = messages[1]["content"]
    assert len(kept) == 4 and messages[0]["role"] == "system"
    assert "54-year-old female" in user and "Chronic myeloid leukemia (MESH:D015464)" in user
    assert "- DB00619: Imatinib — evidence E1, E3" in user
    assert "[E2] (DB01254, PMID:1001)" in user and "[E1] (DB00619, knowledge graph)" in user
    assert PROMPT_VERSION == "reason-v3"


def test_candidates_are_listed_strongest_evidence_first_with_their_items() -> None:
    task = _task()
    task.candidates.reverse()  # Dasatinib given first, but Imatinib has the stronger items
    task.candidates.append(Candidate(id="DB00001", name="Lepirudin"))
    user = build_messages(task, _words, budget=10_000)[0][1]["content"]
    listed = user.split("Candidates:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(":")[0] for line in listed] == ["- DB00619", "- DB01254", "- DB00001"]
    assert listed[2].endswith("no evidence")
    evidence = user.split("Evidence:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split("]")[0] for line in evidence] == ["[E1", "[E3", "[E2", "[E4"]


def test_evidence_is_budgeted_by_priority_and_shared_between_candidates() -> None:
    full, _ = build_messages(_task(evidence=8), _words, budget=10_000)
    cost = _words(full[0]["content"]) + _words(full[1]["content"])
    small, kept = build_messages(_task(evidence=8), _words, budget=cost - 40)
    assert 0 < len(kept) < 8
    user = small[1]["content"]
    assert "[E1]" in user and "[E2]" in user  # each candidate's best item survives
    assert _words(small[0]["content"]) + _words(user) <= cost - 40


def test_long_evidence_items_are_cut() -> None:
    task = _task(evidence=1)
    task.evidence[0].text = "word " * 1000
    messages, kept = build_messages(task, _words, budget=10_000)
    assert len(kept) == 1 and _words(messages[1]["content"]) < 200


# --- answers --------------------------------------------------------------------------


def test_valid_answer_is_checked_and_kept() -> None:
    text = ANSWER_PREFIX + (
        'DB01254", "rationale": "Dasatinib: second line.", "evidence": ["E2", "E9"]}, '
        '{"drug": "Imatinib", "rationale": "Imatinib: first line.", "evidence": ["E1"]}], '
        '"confidence": 0.8}'
    )
    rec = recommendation_from_text(text, _task())
    assert not rec.fallback and rec.confidence == 0.8
    assert [c.drug_id for c in rec.choices] == ["DB01254", "DB00619"]  # name mapped to id
    assert rec.choices[0].evidence_ids == ["E2"] and rec.removed_ids == 1  # E9 unknown


def test_a_citation_about_another_candidate_is_removed() -> None:
    text = ANSWER_PREFIX + (
        'DB00619", "rationale": "Fits.", "evidence": ["E1", "E2"]}], "confidence": 0.8}'
    )
    rec = recommendation_from_text(text, _task())  # E2 is about dasatinib only
    assert rec.choices[0].evidence_ids == ["E1"] and rec.removed_ids == 1
    only_other = text.replace('["E1", "E2"]', '["E2"]')
    choice = recommendation_from_text(only_other, _task()).choices[0]
    assert not choice.grounded and choice.evidence_ids == ["E1", "E3"]


def test_a_drug_without_shown_evidence_is_not_recommended() -> None:
    task = _task()
    task.candidates.append(Candidate(id="DB00001", name="Lepirudin"))
    text = ANSWER_PREFIX + 'DB00001", "rationale": "Why not.", "evidence": []}], "confidence": 0.9}'
    rec = recommendation_from_text(text, task)
    assert rec.fallback and rec.removed_ids == 1
    assert "DB00001" not in {c.drug_id for c in rec.choices}


def test_broken_json_is_repaired() -> None:
    cut = ANSWER_PREFIX + 'DB00619", "rationale": "Targets BCR-ABL", "evidence": ["E1", '
    rec = recommendation_from_text(cut, _task())
    assert not rec.fallback and rec.choices[0].drug_id == "DB00619"
    assert rec.choices[0].evidence_ids == ["E1"]


def test_unknown_drugs_are_removed_and_counted() -> None:
    text = '{"choices": [{"drug": "DB99999", "evidence": ["E1"]}, {"drug": "DB00619"}, ' + (
        '{"drug": "DB00619"}], "confidence": 2}'
    )
    rec = recommendation_from_text(text, _task())
    assert [c.drug_id for c in rec.choices] == ["DB00619"]
    assert rec.removed_ids == 2 and rec.confidence == 0.3  # 2 was clamped to 1, then ungrounded


@pytest.mark.parametrize(
    "text",
    ["", "I think imatinib.", "[1, 2]", '{"choices": "DB00619"}', '{"choices": [{"drug": "X"}]}'],
)
def test_unusable_answers_fall_back_to_the_evidence_ranking(text: str) -> None:
    rec = recommendation_from_text(text, _task(evidence=3))
    assert rec.fallback and rec.problem
    assert [c.drug_id for c in rec.choices] == ["DB00619", "DB01254"]  # 2 items vs 1
    assert rec.choices[0].evidence_ids == ["E1", "E3"]
    assert rec.confidence < 0.5


def test_ungrounded_rationale_is_not_shown_and_repeats_are_dropped() -> None:
    text = ANSWER_PREFIX + (
        'DB00619", "rationale": "It is an antibody. It is an antibody.", "evidence": ["E9"]}, '
        '{"drug": "DB01254", "rationale": "Dasatinib works. Dasatinib works.", '
        '"evidence": ["E2"]}]}'
    )
    rec = recommendation_from_text(text, _task())
    first, second = rec.choices
    assert not first.grounded and "antibody" not in first.rationale
    assert first.evidence_ids == ["E1", "E3"]  # the evidence about imatinib, to look at
    assert second.grounded and second.templated  # a looping rationale is not shown
    assert second.rationale.startswith("Evidence summary for Dasatinib (templated")
    assert "because it repeats a sentence" in second.rationale


def test_empty_choice_is_an_abstention_not_a_failure() -> None:
    rec = recommendation_from_text('{"choices": [], "confidence": 0.9}', _task())
    assert not rec.fallback and rec.choices == [] and rec.confidence <= 0.3
    none = recommendation_from_text("garbage", _task(evidence=0))
    assert none.fallback and none.choices == [] and none.confidence == 0.0


def test_json_closed() -> None:
    assert json_closed('{"a": "}"}') and json_closed('{"a": [1, {"b": 2}]} trailing')
    assert not json_closed('{"a": "}') and not json_closed('{"a": "\\"}"') and not json_closed("")
    assert parse_answer('{"drug": "DB00619"}') is not None  # a bare choice is accepted


# --- the model ------------------------------------------------------------------------


def test_recommend_with_a_random_model_never_crashes(tiny: ReasoningModel) -> None:
    reasoner = Reasoner(tiny, max_new_tokens=24)
    rec = reasoner.recommend(_task())
    assert rec.prompt_version == PROMPT_VERSION
    assert {c.drug_id for c in rec.choices} <= {"DB00619", "DB01254"}
    shown = {e.id for e in _task().evidence}
    assert all(set(c.evidence_ids) <= shown for c in rec.choices)
    assert 0 < reasoner.last.new_tokens <= 24


def test_model_failure_falls_back(tiny: ReasoningModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tiny.model, "generate", broken)  # fails in the batch worker
    rec = Reasoner(tiny).recommend(_task())
    assert rec.fallback and "RuntimeError" in (rec.problem or "")
    monkeypatch.undo()
    assert not Reasoner(tiny).recommend(_task()).fallback  # the worker survived


def test_constrained_answers_of_a_random_model_are_valid_json_of_the_schema(
    tiny: ReasoningModel,
) -> None:
    """Unconstrained, a random model writes noise; held to the schema, a checkable answer."""
    task = _task(evidence=4, max_choices=2)
    reasoner = Reasoner(tiny, max_new_tokens=120)
    messages, shown = reasoner.messages(task)
    # room for the longest answer the schema allows (two rationales of up to 300 characters,
    # a token each at worst): a random model may fill them
    answer = LocalBackend.of(tiny).answer(messages, task_schema(task, shown), 1000)
    assert answer.constrained
    data = json.loads(answer.text)  # whole, valid JSON: no repair needed
    about = {e.id: set(e.drugs) for e in task.evidence}
    assert 1 <= len(data["choices"]) <= 2
    for choice in data["choices"]:
        assert choice["drug"] in task.candidate_ids()
        assert all(e in shown and choice["drug"] in about[e] for e in choice["evidence"])
    free = Reasoner(tiny, max_new_tokens=120, constrained=False)
    assert free.recommend(task).fallback  # the same model, not held to the schema


def test_schema_offers_only_drugs_with_evidence_and_their_own_items() -> None:
    task = _task(evidence=4)
    schema = task_schema(task, shown={"E1", "E3"})
    options = schema["properties"]["choices"]["items"]["anyOf"]
    offered = {o["properties"]["drug"]["const"]: o["properties"]["evidence"] for o in options}
    assert offered == {"DB00619": {"type": "array", "items": {"enum": ["E1", "E3"]}, "maxItems": 4}}
    assert schema["properties"]["choices"]["maxItems"] == task.max_choices
    bare = task_schema(task, shown=set())  # nothing shown: every drug, nothing to cite
    assert len(bare["properties"]["choices"]["items"]["anyOf"]) == 2
    # A confidence of at most two decimals: "1.000…" cannot run past the token budget.
    stated = schema["properties"]["confidence"]["enum"]
    assert 0.0 in stated and 1.0 in stated and 0.85 in stated and len(stated) == 101


def test_concurrent_requests_share_batches_without_cross_talk(tiny: ReasoningModel) -> None:
    """Each of several requests decoded in one batch gets its own answer and stream."""
    tasks = [_task(evidence=n, max_choices=1 + n % 2) for n in (2, 3, 4, 5)]
    alone = [Reasoner(tiny, max_new_tokens=60).recommend(t) for t in tasks]
    backend = LocalBackend.of(tiny)
    before = len(backend.batches)
    streams: list[list[str]] = [[] for _ in tasks]
    barrier = threading.Barrier(len(tasks))

    def ask(i: int) -> Recommendation:
        barrier.wait()
        return Reasoner(tiny, max_new_tokens=60).recommend(tasks[i], on_text=streams[i].append)

    with ThreadPoolExecutor(len(tasks)) as pool:
        together = list(pool.map(ask, range(len(tasks))))
    assert max(backend.batches[before:]) > 1  # at least two shared a forward pass
    for one, other in zip(alone, together, strict=True):
        assert [c.drug_id for c in one.choices] == [c.drug_id for c in other.choices]
    for task, stream, rec in zip(tasks, streams, together, strict=True):
        assert stream and {c.drug_id for c in rec.choices} <= set(task.candidate_ids())


def test_an_idle_worker_ends_and_the_next_request_starts_one(
    tiny: ReasoningModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker thread (and its OpenMP team) goes when idle; requests still get answers."""
    from kedrec_agent.reasoning import local

    monkeypatch.setattr(local, "IDLE_S", 0.05)
    backend = LocalBackend(tiny)
    reasoner = Reasoner(backend, max_new_tokens=20)
    first = reasoner.recommend(_task(evidence=2))
    worker = backend._worker
    assert worker is not None
    worker.join(timeout=5)
    assert not worker.is_alive() and backend._worker is None
    again = reasoner.recommend(_task(evidence=2))
    assert [c.drug_id for c in again.choices] == [c.drug_id for c in first.choices]


def test_log_likelihood_scores_match_a_full_forward_pass(tiny: ReasoningModel) -> None:
    reasoner = Reasoner(tiny)
    task = _task()
    scores = dict(reasoner.score(task))
    prompt, _ = reasoner.prompt(task)
    tokenizer = tiny.tokenizer
    for candidate in task.candidates:
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = tokenizer(f'{candidate.id}"', add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = tiny.model(input_ids=torch.tensor([head + tail])).logits[0]
        logp = torch.log_softmax(logits.float(), dim=-1)
        expected = sum(float(logp[len(head) + j - 1, t]) for j, t in enumerate(tail))
        assert scores[candidate.id] == pytest.approx(expected, abs=1e-3)
    assert reasoner.score(task) == reasoner.score(task)  # deterministic


def test_lora_adapter_changes_outputs(tiny_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    base = LlamaForCausalLM.from_pretrained(tiny_dir)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    settings = Settings(data_dir=Path("."), home=tmp_path, model=tiny_dir, model_dtype="float32")
    plain = load_model(settings)
    adapted = load_model(replace(settings, adapter=tmp_path / "adapter"))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        before = plain.model(input_ids=ids).logits
        lora = adapted.model(input_ids=ids).logits
    assert adapted.adapter == tmp_path / "adapter" and plain.adapter is None
    assert not torch.allclose(before, lora, atol=1e-4)


def test_bad_models_and_adapters_are_clear_errors(tiny_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(ConfigError, match=r"config\.json missing"):
        load_model(Settings(data_dir=Path("."), home=home, model=tmp_path / "nothing"))
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match="LLaMA-architecture"):
        load_model(Settings(data_dir=Path("."), home=home, model=gpt))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (corrupt / name).write_bytes((tiny_dir / name).read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="Cannot load the model"):
        load_model(Settings(data_dir=Path("."), home=home, model=corrupt))
    with pytest.raises(ConfigError, match="No LoRA adapter"):
        load_model(Settings(data_dir=Path("."), home=home, model=tiny_dir, adapter=tmp_path))


def test_packaged_gguf_is_found_without_importing_the_package() -> None:
    path = packaged_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


# --- 4-bit decoding -------------------------------------------------------------------


@pytest.mark.skipif(not int4.available(), reason="this PyTorch has no int4 CPU kernels")
def test_int4_linear_matches_its_dequantised_weight() -> None:
    torch.manual_seed(1)
    linear = torch.nn.Linear(64, 96, bias=False)
    layer = int4.Int4Linear(linear)
    groups = linear.weight.data.reshape(96, 2, 32)
    low, high = groups.amin(-1, keepdim=True), groups.amax(-1, keepdim=True)
    scale = (high - low) / 15
    dequantised = (((groups - low) / scale).round() * scale + low).reshape(96, 64)
    few = torch.randn(2, 64, dtype=torch.bfloat16)  # decoding: the int4 kernel
    many = torch.randn(1, 20, 64, dtype=torch.bfloat16)  # prefill: the bf16 weight
    expected = few.float() @ dequantised.T
    assert torch.allclose(layer(few).float(), expected, atol=0.05 * float(expected.abs().max()))
    assert torch.allclose(layer(many).float(), many.float() @ linear.weight.data.T, atol=0.1)


@pytest.mark.skipif(not int4.available(), reason="this PyTorch has no int4 CPU kernels")
def test_int4_decoding_keeps_the_model_close(tiny_dir: Path) -> None:
    settings = Settings(data_dir=Path("."), home=tiny_dir.parent, model=tiny_dir)
    plain = load_model(replace(settings, model_dtype="bfloat16", model_quant="none"))
    packed = load_model(replace(settings, model_dtype="bfloat16", model_quant="int4"))
    assert (plain.quantization, packed.quantization) == ("none", "int4-decode")
    assert isinstance(packed.model.model.layers[0].mlp.down_proj, int4.Int4Linear)
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        a = plain.model(input_ids=ids).logits.float()
        b = packed.model(input_ids=ids).logits.float()
    assert torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) > 0.98
    rec = Reasoner(packed, max_new_tokens=16).recommend(_task())
    assert rec.prompt_version == PROMPT_VERSION


def _with_random_adapter(tiny_dir: Path, tmp_path: Path, dtype: str) -> Settings:
    """Settings for the tiny model in ``dtype`` with a random rank-4 LoRA adapter on q and v."""
    from peft import LoraConfig, get_peft_model

    base = LlamaForCausalLM.from_pretrained(tiny_dir)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    return Settings(
        data_dir=Path("."), home=tmp_path, model=tiny_dir, model_dtype=dtype,
        adapter=tmp_path / "adapter",
    )  # fmt: skip


@pytest.mark.skipif(not int4.available(), reason="this PyTorch has no int4 CPU kernels")
def test_int4_keeps_a_lora_adapter_unmerged_beside_the_4bit_base(
    tiny_dir: Path, tmp_path: Path
) -> None:
    settings = _with_random_adapter(tiny_dir, tmp_path, "bfloat16")
    plain = load_model(replace(settings, model_quant="none"))
    packed = load_model(replace(settings, model_quant="int4"))
    no_adapter = load_model(replace(settings, adapter=None, model_quant="int4"))
    q_proj = packed.model.get_base_model().model.layers[0].self_attn.q_proj
    assert packed.quantization == "int4-decode"
    assert isinstance(q_proj, int4.Int4Linear)  # the base weight in 4 bits, the adapter's
    assert q_proj.lora_a_t is not None and q_proj.lora_a_t.shape == (32, 4)  # A and B beside it
    ids = torch.tensor([[5, 6, 7]])  # three rows: the int4 decoding kernel
    with torch.no_grad():
        a, b, c = (m.model(input_ids=ids).logits.float() for m in (plain, packed, no_adapter))
    similarity = torch.nn.functional.cosine_similarity
    assert similarity(a.flatten(), b.flatten(), dim=0) > 0.98
    # the adapter's effect survives quantisation: closer to the adapted model than the base
    assert (a - b).abs().mean() < (a - c).abs().mean()
    long_ids = torch.arange(5, 17).unsqueeze(0)  # twelve rows: prefill, the adapter merged
    with torch.no_grad():
        a, b, c = (m.model(input_ids=long_ids).logits.float() for m in (plain, packed, no_adapter))
    assert similarity(a.flatten(), b.flatten(), dim=0) > 0.98
    assert (a - b).abs().mean() < (a - c).abs().mean()


# --- bf16 decoding copies of a float32 model (a CPU without native bf16) ----------------


def test_bf16_decode_linear_uses_the_bf16_copy_for_few_rows_only() -> None:
    torch.manual_seed(2)
    linear = torch.nn.Linear(64, 96, bias=True)
    layer = bf16_decode.Bf16DecodeLinear(linear)
    few, many = torch.randn(2, 64), torch.randn(1, 20, 64)
    rounded = few.bfloat16().float() @ linear.weight.data.bfloat16().float().T + linear.bias
    assert torch.allclose(layer(few), rounded, atol=1e-2)  # decoding: the bf16 copy
    assert torch.equal(layer(many), linear(many))  # prefill: the float32 weight itself
    assert layer(few).dtype == torch.float32 and not torch.equal(layer(few), linear(few))


def test_bf16_decode_keeps_a_lora_adapter_unmerged_and_the_model_close(
    tiny_dir: Path, tmp_path: Path
) -> None:
    settings = _with_random_adapter(tiny_dir, tmp_path, "float32")
    plain = load_model(replace(settings, model_quant="none"))
    auto = load_model(settings)  # float32 on a CPU: auto gives decoding its bf16 copies
    no_adapter = load_model(replace(settings, adapter=None, model_quant="bf16-decode"))
    assert (plain.quantization, auto.quantization) == ("none", "bf16-decode")
    q_proj = auto.model.get_base_model().model.layers[0].self_attn.q_proj
    assert isinstance(q_proj, bf16_decode.Bf16DecodeLinear) and q_proj.lora_a_t is not None
    assert isinstance(auto.model.get_base_model().lm_head, bf16_decode.Bf16DecodeLinear)
    similarity = torch.nn.functional.cosine_similarity
    for ids in (torch.tensor([[5, 6, 7]]), torch.arange(5, 17).unsqueeze(0)):  # decode, prefill
        with torch.no_grad():
            a, b, c = (m.model(input_ids=ids).logits for m in (plain, auto, no_adapter))
        assert similarity(a.flatten(), b.flatten(), dim=0) > 0.999
        assert (a - b).abs().mean() < (a - c).abs().mean()  # the adapter's effect survives
    with pytest.raises(ConfigError, match="float32"):
        load_model(replace(settings, model_dtype="bfloat16", model_quant="bf16-decode"))
