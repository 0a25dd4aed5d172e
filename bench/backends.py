"""Dev selection of each reasoning backend on the same tasks, and PEFT vs GGUF-LoRA parity.

The harness's seeded dev subset (gold masked; ``kedrec eval exprxrec --limit`` answers
the same tasks), answered by:

* ``local``: the transformers model in this process, held to the answer schema (the agent's
  default), and ``local-free``: the same model not held to it (before this backend);
* ``server``: llama.cpp's OpenAI-compatible server (xllamacpp, the same GGUF) through the
  ``openai`` backend, the schema sent as ``response_format``;

each with the base model and with the distilled adapter (PEFT in the local model, the GGUF
LoRA written by ``kedrec train sft`` / :func:`training.sft.gguf_lora.to_gguf` in the
server). It prints per method the accuracy of the first choice, the fallback rate (the
answer unusable), the share of first choices citing nothing, seconds per task, and the
parity of the adapter's two forms: the same chosen drug, and the same drug and cited ids.

Usage: python bench/backends.py [--limit 100] [--methods local,local-free,server]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from kedrec_agent.reasoning.backends import Backend, OpenAIBackend
from kedrec_agent.reasoning.llama_server import ServerOptions, start
from kedrec_agent.reasoning.reasoner import Reasoner
from kedrec_agent.reasoning.runtime import PACKAGED_ADAPTER, ReasoningModel
from kedrec_agent.reasoning.schema import ReasoningTask, Recommendation
from training.evaluation.exprxrec import cached_visible_tasks, subset
from training.evaluation.suite import Harness, default_out
from training.sft.gguf_lora import to_gguf
from training.tasks.files import default_tasks_file, read_tasks


def run(
    name: str, model: ReasoningModel | Backend, tasks: list[tuple[str, str, ReasoningTask]], *,
    constrained: bool = True,
) -> dict[str, Recommendation]:  # fmt: skip
    """Answer every task; print the method's figures; the answers by task id."""
    reasoner = Reasoner(model, constrained=constrained)
    answers, seconds, correct = {}, [], 0
    for task_id, gold, visible in tasks:
        started = time.perf_counter()
        rec = reasoner.recommend(visible)
        seconds.append(time.perf_counter() - started)
        answers[task_id] = rec
        correct += bool(rec.choices) and rec.choices[0].drug_id == gold
    n = len(tasks)
    fallback = sum(r.fallback for r in answers.values())
    ungrounded = sum(bool(r.choices) and not r.choices[0].grounded for r in answers.values())
    print(
        f"{name:>22}: accuracy {correct / n:.3f} ({correct}/{n}); fallback {fallback / n:.2f}; "
        f"ungrounded {ungrounded / n:.2f}; {statistics.mean(seconds):.2f} s/task "
        f"(p50 {statistics.median(seconds):.2f} s)",
        flush=True,
    )
    return answers


def parity(a: dict[str, Recommendation], b: dict[str, Recommendation]) -> str:
    """Share of tasks with the same first choice, and with the same choice and cited ids."""

    def first(rec: Recommendation) -> tuple[str | None, tuple[str, ...]]:
        top = rec.choices[0] if rec.choices else None
        return (top.drug_id, tuple(top.evidence_ids)) if top else (None, ())

    same_drug = sum(first(a[k])[0] == first(b[k])[0] for k in a)
    same_all = sum(first(a[k]) == first(b[k]) for k in a)
    return (
        f"same chosen drug {same_drug / len(a):.3f} ({same_drug}/{len(a)}), same drug and "
        f"cited ids {same_all / len(a):.3f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=100, help="dev tasks (seeded subset)")
    parser.add_argument("--methods", default="local,local-free,server")
    parser.add_argument("--threads", type=int, default=2, help="the server's CPU threads")
    args = parser.parse_args(argv)
    methods = set(args.methods.split(","))
    harness = Harness(out=default_out(), seed=0, literature=True)
    todo = read_tasks(default_tasks_file("dev", harness.settings))
    visible = cached_visible_tasks(
        todo, harness.sources, harness.out / "cache", data=harness.data_version, workers=1,
        progress=False,
    )  # fmt: skip
    chosen = subset([t for t in todo if t.task_id in visible], args.limit, 0)
    tasks = [(t.task_id, t.positive, visible[t.task_id]) for t in chosen]
    print(f"== dev selection, {len(tasks)} tasks (seeded subset, gold masked)")
    base, adapter = harness.base_model, harness.adapter_model
    answers: dict[str, dict[str, Recommendation]] = {}
    if "local" in methods:
        answers["local base"] = run("local base", base, tasks)
        if adapter is not None:
            answers["local adapter"] = run("local adapter (PEFT)", adapter, tasks)
    if "local-free" in methods:
        run("local base, free", base, tasks, constrained=False)
        if adapter is not None:
            run("local adapter, free", adapter, tasks, constrained=False)
    if "server" in methods:
        with tempfile.TemporaryDirectory() as folder:
            lora = to_gguf(PACKAGED_ADAPTER, Path(folder) / "lora.gguf")
            for label, options in (
                ("server base", ServerOptions(port=18731, threads=args.threads)),
                ("server adapter", ServerOptions(port=18732, lora=lora, threads=args.threads)),
            ):
                handle = start(options)
                url = f"http://127.0.0.1:{options.port}/v1"
                answers[label] = run(label, OpenAIBackend(url, "kedrec"), tasks)
                del handle
    for one, other in (("local base", "server base"), ("local adapter", "server adapter")):
        if one in answers and other in answers:
            print(f"  parity {one} vs {other}: {parity(answers[one], answers[other])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
