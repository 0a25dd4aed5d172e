"""Bounded load test on localhost (`make bench-load`). Prints its figures; exit 1 on errors.

N concurrent users, each sending a fixed number of requests one after the other, against
(a) the LangGraph API server (`langgraph dev`, started offline on a free port, driven with
the LangGraph SDK) and (b) the programmatic API (`arecommend`, in this process). Every
request is a distinct patient (a dev-split disease with KG candidates, a distinct age, and a
marker in the note), so cross-talk shows: each answer's linked patient must be its own
request's. Reported: errors, cross-talk, throughput, latency p50 / p95, resident memory
(RSS) before, peak and after (the server's whole process tree for (a)), and whether the
server log holds any patient marker.

Usage: python bench/load.py [--users 20] [--requests-per-user 2] [--target both|api|server]
       python bench/load.py --quick    # 4 users x 2 requests, programmatic API only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from kedrec_agent.agent.result import AgentResult
from kedrec_agent.api import arecommend
from kedrec_agent.config import get_settings
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' `langgraph dev` starter, shared with the test suite
from tests.devserver import langgraph_dev  # noqa: E402

MARKER = "LOADMARK"


@dataclass(frozen=True)
class Request:
    """One patient: structured condition and age, and a note with a unique marker."""

    index: int
    condition: str
    """The canonical disease id the answer must be linked to."""
    age: int

    def patient(self) -> dict[str, Any]:
        """The graph input (``patient`` text + ``record``)."""
        return {
            "patient": f"Patient {MARKER}-{self.index:04d}.",
            "record": {"conditions": [self.condition], "age": self.age},
        }


@dataclass
class Report:
    """What one target did."""

    target: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crosstalk: list[int] = field(default_factory=list)
    wall: float = 0.0
    rss_mb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Before, peak, after."""
    log_markers: int | None = None

    def lines(self) -> list[str]:
        """The printed figures."""
        n = len(self.latencies) + len(self.errors)
        out = [
            f"{self.target}: {n} requests, {len(self.errors)} errors, "
            f"{len(self.crosstalk)} cross-talk",
            f"{self.target}: wall {self.wall:.1f} s, throughput {n / self.wall:.2f} requests/s",
        ]
        if self.latencies:
            out.append(
                f"{self.target}: latency p50 {pct(self.latencies, 0.5):.2f} s, "
                f"p95 {pct(self.latencies, 0.95):.2f} s"
            )
        before, peak, after = self.rss_mb
        out.append(
            f"{self.target}: RSS before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB"
        )
        if self.log_markers is not None:
            out.append(
                f"{self.target}: patient markers in the server's log and files: {self.log_markers}"
            )
        out += [f"{self.target}: error: {e}" for e in self.errors[:5]]
        return out

    @property
    def ok(self) -> bool:
        """No error, no cross-talk, nothing of the patients in the log."""
        return not self.errors and not self.crosstalk and not self.log_markers


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def requests(n: int, seed: int = 0) -> list[Request]:
    """``n`` distinct patients: dev-split diseases with KG candidates, distinct ages."""
    settings = get_settings()
    diseases = settings.data_file("splits/diseases_dev.txt").read_text().split()
    random.Random(seed).shuffle(diseases)
    linker, kg = get_linker(), KnowledgeGraph.from_settings(settings)
    usable: list[str] = []
    for disease in diseases:
        if linker.name_of(disease) and kg.drugs_for_disease(disease):
            usable.append(linker.link(disease, "disease").canonical)
        if len(usable) == min(n, 40):
            break
    return [Request(i, usable[i % len(usable)], 18 + i % 100) for i in range(n)]


def check(request: Request, result: AgentResult) -> bool:
    """Whether ``result`` is this request's patient (no cross-talk)."""
    return [c.id for c in result.patient.conditions] == [request.condition] and (
        result.patient.age == request.age
    )


class Sampler:
    """Peak RSS (MB) of a process and its children, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> float:
        """Resident memory now, MB."""
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total / 1e6

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_api(reqs: Sequence[Request], users: int) -> Report:
    """``users`` concurrent coroutines over ``arecommend``, requests split between them."""
    report = Report("api")
    first = reqs[0].patient()
    asyncio.run(arecommend({"text": first["patient"], **first["record"]}))  # load the model
    sampler = Sampler(os.getpid())
    before = sampler.rss()

    async def user(mine: Sequence[Request]) -> None:
        for request in mine:
            started = time.perf_counter()
            try:
                result = await arecommend(
                    {"text": request.patient()["patient"], **request.patient()["record"]}
                )
            except Exception as exc:
                report.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            report.latencies.append(time.perf_counter() - started)
            if not check(request, result):
                report.crosstalk.append(request.index)

    async def main() -> None:
        await asyncio.gather(*(user(reqs[u::users]) for u in range(users)))

    started = time.perf_counter()
    with sampler:
        asyncio.run(main())
    report.wall = time.perf_counter() - started
    report.rss_mb = (before, sampler.peak, sampler.rss())
    return report


def run_server(reqs: Sequence[Request], users: int) -> Report:
    """``users`` threads, each with its own SDK client, against ``langgraph dev``."""
    from langgraph_sdk import get_sync_client

    report = Report("server")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with langgraph_dev(log) as server:
            url = server.url
            sampler = Sampler(server.pid)
            with get_sync_client(url=url, api_key=None, timeout=600.0) as warm:
                warm.runs.wait(None, "kedrec", input=reqs[0].patient())  # load the model once
            before = sampler.rss()

            def user(mine: Sequence[Request]) -> None:
                with get_sync_client(url=url, api_key=None, timeout=600.0) as client:
                    for request in mine:
                        started = time.perf_counter()
                        try:
                            out = client.runs.wait(
                                None, "kedrec", input=request.patient(), raise_error=False
                            )
                        except Exception as exc:
                            report.errors.append(f"{type(exc).__name__}: {exc}")
                            continue
                        if not isinstance(out, dict) or "__error__" in out or "result" not in out:
                            report.errors.append(f"request {request.index}: {str(out)[:200]}")
                            continue
                        report.latencies.append(time.perf_counter() - started)
                        if not check(request, AgentResult.model_validate(out["result"])):
                            report.crosstalk.append(request.index)

            threads = [threading.Thread(target=user, args=(reqs[u::users],)) for u in range(users)]
            started = time.perf_counter()
            with sampler:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            report.wall = time.perf_counter() - started
            report.rss_mb = (before, sampler.peak, sampler.rss())
        saved = [log, *(ROOT / ".langgraph_api").glob("*")]  # the dev server's own files
        report.log_markers = sum(
            p.read_bytes().count(MARKER.encode()) for p in saved if p.is_file()
        )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests-per-user", type=int, default=2)
    parser.add_argument("--target", choices=("both", "api", "server"), default="both")
    parser.add_argument("--quick", action="store_true", help="4 users x 2 requests, api only")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.requests_per_user, args.target = 4, 2, "api"
    reqs = requests(args.users * args.requests_per_user)
    print(
        f"load: {args.users} users x {args.requests_per_user} requests, "
        f"{len({r.condition for r in reqs})} distinct conditions, {os.cpu_count()} CPUs"
    )
    runners: dict[str, Callable[[Sequence[Request], int], Report]] = {
        "server": run_server,
        "api": run_api,
    }
    reports = [
        run(reqs, args.users) for name, run in runners.items() if args.target in (name, "both")
    ]
    for report in reports:
        print("\n".join(report.lines()))
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
