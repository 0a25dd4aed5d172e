"""Benchmark of the reasoning model (`make bench-llm`). Prints its figures, exits 0.

1. Cold start: the packaged GGUF dequantised and cached (a child process, empty home).
   Warm start: a child process loading the cached safetensors (load time, and the
   process's wall time including imports).
2. A typical ~600-token evidence prompt: prefill time, decode tokens/s over 150 new tokens
   (greedy, no early stop, the node's static KV cache): float32, float32 decoding with bf16
   copies of the weights (the default on a CPU without native bf16), bfloat16, and
   bfloat16 with 4-bit weight-only decoding (the default on a CPU with native bf16).
3. The node end to end (prompt, generation, parse, check), held to the answer schema and
   not (the same tasks), and the log-likelihood scoring mode: p50 / p95 over varied tasks.
4. Dynamic batching: the same tasks one at a time, then all at once (throughput ratio).
5. llama.cpp's OpenAI-compatible server (xllamacpp, the same GGUF) through the ``openai``
   backend: the same tasks one at a time and all at once.
6. Anchor in the same run: llama-cpp-python on the same GGUF with the same threads (the
   `bench` extra installs it; it is skipped with the reason if missing).

Usage: python bench/llm.py [--quick]

``--quick`` (the small form ``make test`` runs) answers one task per mode and two in the
batching and server checks, decodes 32 tokens and, on a CPU without native bf16, times only
the two float32 configurations.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from kedrec_agent.config import Settings
from kedrec_agent.errors import ConfigError
from kedrec_agent.hardware import fast_bf16, in_own_thread
from kedrec_agent.reasoning.local import CACHE, LocalBackend
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import ReasoningModel, load_model, packaged_gguf
from kedrec_agent.reasoning.schema import Candidate, EntityRef, Evidence, PatientView, ReasoningTask

NEW_TOKENS = 150
DRUGS = [("DB00619", "Imatinib"), ("DB01254", "Dasatinib"), ("DB04868", "Nilotinib"),
         ("DB00945", "Aspirin"), ("DB00682", "Warfarin"), ("DB00331", "Metformin")]  # fmt: skip
SENTENCE = (
    "{name} was studied in adults with chronic myeloid leukemia; the trial reports response "
    "rates, cytogenetic remission and adverse events including edema and cytopenias. "
)


def task(seed: int, evidence: int = 8) -> ReasoningTask:
    """A task whose prompt is ~600 tokens with the default model (varies with ``seed``)."""
    drugs = [DRUGS[(seed + i) % len(DRUGS)] for i in range(3)]
    items = [
        Evidence(
            id=f"E{i + 1}",
            kind="kg" if i % 2 else "literature",
            citation=None if i % 2 else f"PMID:{19822896 + seed * 10 + i}",
            text=SENTENCE.format(name=drugs[i % 3][1]),
            drugs=[drugs[i % 3][0]],
            priority=float(evidence - i),
        )
        for i in range(evidence)
    ]
    return ReasoningTask(
        patient=PatientView(
            conditions=[
                EntityRef(id="MESH:D015464", name="Chronic myeloid leukemia"),
                EntityRef(id="MESH:D006973", name="Hypertension"),
            ],
            medications=[EntityRef(id="DB00722", name="Lisinopril")],
            allergies=[EntityRef(id="MESH:D010406", name="Penicillins")],
            age=50 + seed,
            sex="female" if seed % 2 else "male",
        ),
        candidates=[Candidate(id=i, name=n) for i, n in drugs],
        evidence=items,
        max_choices=1,
    )


def ms(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def child_start(home: Path) -> dict[str, float]:
    code = (
        "import time, json; t0 = time.perf_counter();"
        "from pathlib import Path; from kedrec_agent.config import Settings;"
        "from kedrec_agent.reasoning.runtime import load_model;"
        "t1 = time.perf_counter();"
        f"m = load_model(Settings(data_dir=Path('.'), home=Path({str(home)!r})));"
        "t2 = time.perf_counter();"
        "print(json.dumps({'imports': t1 - t0, 'load': t2 - t1, 'total': t2 - t0}))"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    figures["process"] = time.perf_counter() - started
    return figures


def starts() -> None:
    with tempfile.TemporaryDirectory() as home:
        cold = child_start(Path(home))
        warm = child_start(Path(home))
    print("== start (child processes, default model)")
    print(
        f"  cold (dequantise GGUF + cache): load {cold['load']:.1f} s, "
        f"process {cold['process']:.1f} s"
    )
    print(
        f"  warm (cached safetensors): load {warm['load']:.1f} s, process {warm['process']:.1f} s "
        f"(imports {warm['imports']:.1f} s; target <= 5 s)"
    )


def prefill_decode(
    model: ReasoningModel, prompt: str, repeats: int, new_tokens: int = NEW_TOKENS
) -> tuple[float, float, int]:
    """(prefill seconds, decode tokens/s, prompt tokens): medians over ``repeats``."""
    ids = model.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    prefills, rates = [], []
    for _ in range(repeats):
        with torch.inference_mode():
            started = time.perf_counter()
            model.model(input_ids=ids, logits_to_keep=1)  # as generate does
            prefills.append(time.perf_counter() - started)
            started = time.perf_counter()
            model.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                cache_implementation=CACHE,
                pad_token_id=model.tokenizer.pad_token_id,
            )
            total = time.perf_counter() - started
        rates.append(new_tokens / max(1e-6, total - prefills[-1]))
    return statistics.median(prefills), statistics.median(rates), int(ids.shape[1])


def _answers(reasoner: Reasoner, tasks: list[ReasoningTask]) -> tuple[list[float], list[int], int]:
    seconds, tokens, fallbacks = [], [], 0
    for t in tasks:
        started = time.perf_counter()
        rec = reasoner.recommend(t)
        seconds.append(time.perf_counter() - started)
        tokens.append(reasoner.last.new_tokens)
        fallbacks += rec.fallback
    return seconds, tokens, fallbacks


def node(model: ReasoningModel, tasks: list[ReasoningTask]) -> None:
    """The node end to end, held to the answer schema and not (same tasks, same process)."""
    print(f"== reasoning node end to end, {len(tasks)} tasks, {model.dtype}, {model.quantization}")
    for constrained in (True, False):
        reasoner = Reasoner(model, constrained=constrained)
        seconds, tokens, fallbacks = _answers(reasoner, tasks)
        rate = sum(tokens) / sum(seconds)
        print(
            f"  {'schema-constrained' if constrained else 'unconstrained':>18}: recommend p50 "
            f"{ms(seconds, 50):.0f} ms, p95 {ms(seconds, 95):.0f} ms; new tokens median "
            f"{statistics.median(tokens):.0f}, {rate:.1f} tokens/s incl. prefill; fallbacks "
            f"{fallbacks}/{len(tasks)}"
        )
    score_s = in_own_thread(partial(_scores, Reasoner(model), tasks))
    print(f"  log-likelihood scoring (3 candidates) p50 {ms(score_s, 50):.0f} ms")


def _scores(reasoner: Reasoner, tasks: list[ReasoningTask]) -> list[float]:
    """Seconds per log-likelihood scoring: in a passing thread, whose OpenMP team goes with
    it, as scoring on the main thread would slow later decoding (hardware.in_own_thread)."""
    seconds = []
    for t in tasks:
        started = time.perf_counter()
        reasoner.score(t)
        seconds.append(time.perf_counter() - started)
    return seconds


def batching(model: ReasoningModel, tasks: list[ReasoningTask]) -> None:
    """The same tasks one after another, then all at once (dynamic batching)."""
    backend = LocalBackend.of(model)
    started = time.perf_counter()
    alone = [Reasoner(model).recommend(t) for t in tasks]
    sequential = time.perf_counter() - started
    before = len(backend.batches)
    started = time.perf_counter()
    with ThreadPoolExecutor(len(tasks)) as pool:
        together = list(pool.map(Reasoner(model).recommend, tasks))
    concurrent = time.perf_counter() - started
    same = sum(
        [c.drug_id for c in a.choices] == [c.drug_id for c in b.choices]
        for a, b in zip(alone, together, strict=True)
    )
    print(f"== dynamic batching, {len(tasks)} concurrent requests ({model.quantization})")
    print(
        f"  one at a time {sequential:.1f} s, concurrent {concurrent:.1f} s: "
        f"{sequential / concurrent:.2f}x the throughput; batch sizes {backend.batches[before:]}; "
        f"same choices {same}/{len(tasks)}"
    )


def server(tasks: list[ReasoningTask], threads: int) -> None:
    """The same tasks through llama.cpp's OpenAI-compatible server (xllamacpp)."""
    from kedrec_agent.reasoning.backends import OpenAIBackend
    from kedrec_agent.reasoning.llama_server import ServerOptions, start

    port = 18000 + int(time.time()) % 1000
    try:
        handle = start(ServerOptions(port=port, parallel=len(tasks), threads=threads))
    except ConfigError as exc:
        print(f"== llama.cpp server: skipped ({exc})")
        return
    reasoner = Reasoner(OpenAIBackend(f"http://127.0.0.1:{port}/v1", "kedrec"))
    seconds, tokens, fallbacks = _answers(reasoner, tasks)
    started = time.perf_counter()
    with ThreadPoolExecutor(len(tasks)) as pool:
        list(pool.map(reasoner.recommend, tasks))
    concurrent = time.perf_counter() - started
    print(f"== llama.cpp server (xllamacpp, {threads} threads, {len(tasks)} slots), openai backend")
    print(
        f"  recommend p50 {ms(seconds, 50):.0f} ms, p95 {ms(seconds, 95):.0f} ms; new tokens "
        f"median {statistics.median(tokens):.0f}; fallbacks {fallbacks}/{len(tasks)}; "
        f"{len(tasks)} concurrent in {concurrent:.1f} s (one at a time {sum(seconds):.1f} s)"
    )
    del handle


def llama_cpp(
    prompt: str, threads: int, repeats: int, new_tokens: int = NEW_TOKENS
) -> float | None:
    try:
        from llama_cpp import Llama
    except ImportError:
        print("  llama.cpp: skipped, llama-cpp-python is not installed (pip install -e .[bench])")
        return None
    llm = Llama(model_path=str(packaged_gguf()), n_threads=threads, n_ctx=2048, verbose=False)
    ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    prefills, rates = [], []
    for _ in range(repeats):
        llm.reset()
        started = time.perf_counter()
        llm.eval(ids)
        prefills.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(new_tokens):
            token = llm.sample(temp=0.0)
            llm.eval([token])
        rates.append(new_tokens / (time.perf_counter() - started))
    prefill, rate = statistics.median(prefills), statistics.median(rates)
    print(
        f"  llama.cpp (same GGUF, Q4_1, {threads} threads, {len(ids)}-token prompt): "
        f"prefill {prefill * 1000:.0f} ms, "
        f"decode {rate:.1f} tokens/s"
    )
    return rate


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    repeats, n_tasks, n_batch, new_tokens = (1, 1, 2, 32) if args.quick else (3, 20, 8, NEW_TOKENS)
    if not args.quick:
        starts()
    settings = Settings.from_env()
    threads = torch.get_num_threads()
    best: float = 0.0
    configurations = [
        ("float32", "none"),
        ("float32", "bf16-decode"),
        ("bfloat16", "none"),
        ("bfloat16", "int4"),
    ]
    if args.quick and not fast_bf16("cpu"):  # emulated bf16 prefill takes minutes: smoke only
        configurations = configurations[:2]
    models = [
        load_model(replace(settings, model_dtype=dtype, model_quant=quant))
        for dtype, quant in configurations
    ]
    prompt, _ = Reasoner(models[0]).prompt(task(0))
    for model in models:  # decoding first: log-likelihood scoring (node) leaves a thread
        # whose OpenMP team slows later decoding (see hardware.in_own_thread)
        prefill, rate, n = in_own_thread(
            partial(prefill_decode, model, prompt, repeats, new_tokens)
        )
        best = max(best, rate)
        label = f"{str(model.dtype).removeprefix('torch.')}, {model.quantization}"
        print(f"== {label}, {threads} threads: {n}-token prompt, {new_tokens} new tokens")
        print(f"  prefill {prefill * 1000:.0f} ms, decode {rate:.1f} tokens/s")
    # What the agent serves on this machine (float32 on a CPU without native bf16, where
    # bf16 is emulated and several times slower): the quick form times only it end to end.
    default = load_model(settings)
    for model in [default] if args.quick else models:
        node(model, [task(i) for i in range(n_tasks)])
    batching(default, [task(i) for i in range(n_batch)])
    server([task(i) for i in range(n_batch)], threads)
    print("== anchor")
    anchor = llama_cpp(prompt, threads, repeats, new_tokens)
    if anchor:
        print(
            f"  ours / llama.cpp decode time: {anchor / best:.2f}x (target <= 1.5x), "
            "best of the four configurations"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
