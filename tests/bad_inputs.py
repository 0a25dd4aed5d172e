"""The bad-input corpus (tests/fixtures/bad_inputs/*.jsonl) and how each interface is driven.

Shared by the tiny-bundle test (every case) and the real-stores test (the ``e2e`` sample).
Each case goes through the public API (``recommend``), the chatbot tool (``KedrecTool``) and
the CLI (``kedrec ask``, in process); the outcome of each is ``error`` (a clear, typed
error), ``abstain`` (an answer saying why there is none) or ``answer``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from typer.testing import CliRunner

from kedrec_agent import api
from kedrec_agent.agent.result import AgentResult
from kedrec_agent.agent.tools import KedrecTool
from kedrec_agent.api import recommend
from kedrec_agent.cli import app
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients import load_patient

CORPUS = Path(__file__).parent / "fixtures" / "bad_inputs"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"", re.M)


def load_corpus() -> list[dict[str, Any]]:
    """Every case of every corpus file, in file order."""
    cases = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            cases += [json.loads(line) for line in handle if line.strip()]
    return cases


def materialize(value: Any, folder: Path, name: str = "patient") -> Any:
    """The caller's value of a corpus ``patient`` (special forms built; files written)."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "$repeat":
            return arg[0] * arg[1]
        if key == "$bytes":
            return bytes.fromhex(arg)
        if key == "$file":
            path = folder / f"{name}-{arg[0]}"
            path.write_bytes(arg[1].encode("utf-8", "surrogateescape"))
            return path
        if key == "$nested":
            path = folder / f"{name}-nested.json"
            path.write_text("[" * arg + "]" * arg)
            return path
    if isinstance(value, dict):
        return {k: materialize(v, folder, name) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v, folder, name) for v in value]
    return value


class Recorder:
    """A graph wrapper that keeps the last output state (to check ids against the tools)."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.last: dict[str, Any] | None = None

    def invoke(self, state: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.last = None
        out = self.graph.invoke(state, *args, **kwargs)
        self.last = out
        return out

    def batch(self, *args: Any, **kwargs: Any) -> Any:
        return self.graph.batch(*args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.last = None
        for mode, chunk in self.graph.stream(*args, **kwargs):
            if mode == "values":
                self.last = chunk
            yield mode, chunk


def tiny_agent(patch: pytest.MonkeyPatch, graph: Any) -> Recorder:
    """``graph`` (the tiny agent), recorded, also behind ``api.default_graph`` (for the CLI)."""
    recorder = Recorder(graph)
    patch.setattr(api, "default_graph", lambda: recorder)
    return recorder


@dataclass
class Outcome:
    """What one interface did with one case."""

    kind: str
    """``error``, ``abstain`` or ``answer``."""
    message: str = ""
    """The error message or abstention reason (or the text shown)."""
    state: dict[str, Any] | None = None
    """The graph's output state when the graph ran."""
    result: AgentResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def via_api(patient: Any, graph: Recorder) -> Outcome:
    """``recommend`` (a patient file is read with ``load_patient`` first)."""
    try:
        if isinstance(patient, Path):
            patient = load_patient(patient)
        result = recommend(patient, graph=graph)
    except InvalidInputError as exc:
        return Outcome("error", str(exc))
    return Outcome(
        "abstain" if result.abstained else "answer",
        result.reason,
        state=graph.last,
        result=result,
    )


def tool_args(patient: Any) -> dict[str, Any] | None:
    """The chatbot tool's arguments for ``patient`` (None: the tool cannot be given it)."""
    if isinstance(patient, Mapping):
        if any(isinstance(v, bytes) for v in patient.values()):
            return None
        args = dict(patient)
        if "text" in args:
            args["patient"] = args.pop("text")
        return args
    if isinstance(patient, (Path, bytes)):
        return None
    return {"patient": patient}


def via_tool(args: dict[str, Any], graph: Recorder) -> Outcome:
    """``KedrecTool`` called as a chat model would call it."""
    tool = KedrecTool(graph=graph)
    graph.last = None
    message = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage)
    content = str(message.content)
    artifact = message.artifact
    if not isinstance(artifact, dict) or "error" in artifact:
        return Outcome("error", content)
    result = AgentResult.model_validate(artifact)
    kind = "abstain" if result.abstained else "answer"
    return Outcome(kind, content, state=graph.last, result=result)


def cli_args(patient: Any, folder: Path, name: str) -> list[str] | None:
    """``kedrec ask`` arguments for ``patient`` (None: the CLI cannot be given it)."""
    if isinstance(patient, str):
        return ["ask", "--", patient]
    if isinstance(patient, Path):
        return ["ask", "--patient-file", str(patient)]
    if isinstance(patient, bytes):
        path = folder / f"{name}-cli.txt"
        path.write_bytes(patient)
        return ["ask", "--patient-file", str(path)]
    if isinstance(patient, Mapping):
        try:
            text = json.dumps(patient)
        except TypeError:
            return None
        path = folder / f"{name}-cli.json"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["ask", "--patient-file", str(path)]
    return None


RUNNER = CliRunner()


def via_cli(args: list[str], graph: Recorder) -> Outcome:
    """``kedrec ask`` in process (the caller points ``api.default_graph`` at ``graph``)."""
    graph.last = None
    run = RUNNER.invoke(app, args)
    text = f"{run.stdout}\n{run.stderr}"
    assert run.exception is None or isinstance(run.exception, SystemExit), (
        f"uncaught {type(run.exception).__name__}: {run.exception}"
    )
    assert not TRACEBACK.search(text), text[-2000:]
    if run.exit_code == 2:
        assert run.stderr.startswith("error: ") and len(run.stderr.strip()) > len("error: ")
        return Outcome("error", run.stderr, extra={"exit": 2})
    assert run.exit_code == 0, (run.exit_code, text[-2000:])
    state = graph.last
    if "--json" in args:
        data = json.loads(run.stdout)
        return Outcome("abstain" if data["abstained"] else "answer", run.stdout, state=state)
    if "No recommendation:" in run.stdout:
        return Outcome("abstain", run.stdout, state=state)
    assert re.search(r"^\s*1\. ", run.stdout, re.M), run.stdout[-2000:]
    return Outcome("answer", run.stdout, state=state)


def routing(state: Mapping[str, Any]) -> dict[str, Any]:
    """What injected text must not change: linked ids, candidates, route, vetoes."""
    result = state["result"]
    return {
        "conditions": state.get("conditions"),
        "medications": state.get("medications"),
        "allergies": state.get("allergies"),
        "candidates": [c["drug"]["id"] for c in state.get("evidence", {}).get("candidates", [])],
        "abstained": result["abstained"],
        "stages": list(result["timings_ms"]),
        "vetoes": sorted(w["drug_id"] or "" for w in result["warnings"] if w["severity"] == "veto"),
    }


def check_same_route(state: Mapping[str, Any], base: Mapping[str, Any], bare_drug: bool) -> None:
    """Injected text changed neither the linked ids, the candidates nor the route.

    With ``bare_drug`` (the text names a real drug with no cue, which the note reader takes
    for a current medication), that drug may be added to the medications or allergies and so
    withheld or vetoed; everything else must match.
    """
    got, want = routing(state), routing(base)
    if bare_drug:
        for key in ("medications", "allergies", "vetoes"):
            assert set(want[key]) <= set(got[key]), key
            got[key] = want[key]
    assert got == want


def check_grounded(state: Mapping[str, Any], forbid: list[str]) -> None:
    """Every cited id was returned by the tools; no recommended drug outside the candidates."""
    result = state["result"]
    returned = {e["id"] for e in state.get("reasoning_evidence", [])}
    offered = {
        c["drug"]["id"].partition("::")[2]
        for c in state.get("evidence", {}).get("candidates", [])
        if not c["already_taking"]
    }
    for drug in result["recommendations"]:
        assert drug["drug_id"] in offered, drug["drug_id"]
        cited = {e["id"] for e in drug["evidence"]}
        assert cited <= returned, cited - returned
    shown = json.dumps(result["recommendations"])
    for fake in forbid:
        assert fake not in shown, fake
    for key in ("medications", "allergies", "conditions"):
        assert len(state.get(key, [])) == len(set(state.get(key, []))), key


def base_outputs(cases: list[dict[str, Any]], graph: Recorder) -> dict[str, dict[str, Any]]:
    """Output states of the injection cases' clean patients, computed once each."""
    found: dict[str, dict[str, Any]] = {}
    for case in cases:
        if "base" in case and (key := json.dumps(case["base"])) not in found:
            graph.invoke(api.graph_input(case["base"]), context=api.make_context())
            assert graph.last is not None
            found[key] = graph.last
    return found


def check_outcome(
    case: dict[str, Any],
    outcome: Outcome,
    expected: set[str],
    bases: Mapping[str, Mapping[str, Any]],
) -> None:
    """The expected kind, a clear message, and where a state came back: grounded, same route."""
    assert outcome.kind in expected, (outcome.kind, outcome.message)
    assert clear(outcome.message) or outcome.kind == "answer", outcome.message
    if outcome.state is not None:
        check_grounded(outcome.state, case.get("forbid", []))
        if "base" in case:
            base = bases[json.dumps(case["base"])]
            check_same_route(outcome.state, base, case.get("bare_drug", False))


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the stores, checked before and after)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def clear(message: str) -> bool:
    """A message a person can act on: a sentence, no traceback, no Python repr of an error."""
    return bool(message.strip()) and not TRACEBACK.search(message) and "Error(" not in message
