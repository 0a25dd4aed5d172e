"""The literature store on a real (embedded) Postgres with pgvector, started from scratch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from langchain_core.messages import ToolMessage

from kedrec_agent.config import Settings
from kedrec_agent.errors import InvalidInputError, StoreUnavailableError, UnknownEntityError
from kedrec_agent.literature.annotate import Annotator, annotate_missing
from kedrec_agent.literature.chunking import chunk_text
from kedrec_agent.literature.db import Database
from kedrec_agent.literature.ingest import ingest_paths
from kedrec_agent.literature.readers import read_documents
from kedrec_agent.literature.search import Filters, LiteratureSearch, Mode
from kedrec_agent.literature.server import server_dsn
from kedrec_agent.literature.tool import LiteratureRetriever, LiteratureSearchTool
from tests.conftest import FIXTURE_BUNDLE

pytestmark = pytest.mark.integration
LIT = Path(__file__).resolve().parents[1] / "fixtures" / "literature"
FILES = [LIT / "bc5cdr_40.PubTator.txt", LIT / "ctgov_2.jsonl", LIT / "pubmed_sample.xml",
         LIT / "ctgov_v2_study.json"]  # fmt: skip


def _rows(settings: Settings) -> set[tuple[str, str, int, str]]:
    with Database.open(settings).connection() as conn:
        rows = conn.execute("SELECT source, external_id, chunk, body FROM passages").fetchall()
    return {(str(a), str(b), int(str(c)), str(d)) for a, b, c, d in rows}


def _expected(paths: list[Path]) -> set[tuple[str, str, int, str]]:
    expected: set[tuple[str, str, int, str]] = set()
    for path in paths:
        for doc in read_documents(path):
            for i, body in enumerate(chunk_text(doc.text) or [doc.title]):
                expected.add((doc.source, doc.external_id, i, body))
    return expected


@pytest.fixture(scope="module")
def lit_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path_factory.mktemp("lit-home"))
    report = ingest_paths(settings, FILES)
    assert report.documents_added == 44 and report.documents_skipped == 0
    yield settings
    Database.open(settings).close()


@pytest.fixture(scope="module")
def search(lit_settings: Settings) -> LiteratureSearch:
    return LiteratureSearch.from_settings(lit_settings)


def test_server_started_from_scratch_under_home(lit_settings: Settings) -> None:
    assert (lit_settings.pg_data_dir / "PG_VERSION").is_file()
    with Database.open(lit_settings).connection() as conn:
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname='vector'"
        ).fetchone()
        schema = conn.execute("SELECT max(version) FROM kedrec_schema").fetchone()
    assert version is not None and str(version[0]).startswith("0.8")
    assert schema == (2,)


def test_ingest_stores_exactly_the_chunks(lit_settings: Settings) -> None:
    assert _rows(lit_settings) == _expected(FILES)


def test_known_pmids_come_back_for_known_queries(search: LiteratureSearch) -> None:
    hits = search.search("naloxone reverses the antihypertensive effect of clonidine", k=5)
    assert hits[0].citation == "PMID:227508"
    assert hits[0].why and hits[0].snippet
    trials = search.search("imatinib leukemia", k=5, filters=Filters(sources=["ctgov"]))
    assert {h.external_id for h in trials[:2]} == {"NCT00004932", "NCT00461929"}
    xml = search.search("warfarin aspirin bleeding", k=3)
    assert xml[0].citation == "PMID:90000001"


def test_filters_by_mesh_and_year(search: LiteratureSearch) -> None:
    hits = search.search("blood pressure", k=10, filters=Filters(mesh=["MESH:D009270"]))
    assert hits and all("D009270" in h.metadata["mesh"] for h in hits)
    recent = search.search("metformin diabetes", k=10, filters=Filters(year_from=2015))
    assert {h.external_id for h in recent} == {"NCT99999901", "90000001"}  # 2018, 2021
    window = Filters(year_from=2015, year_to=2019)
    assert [h.external_id for h in search.search("metformin", k=10, filters=window)] == [
        "NCT99999901"
    ]


def test_passages_are_annotated_with_linked_entities(lit_settings: Settings) -> None:
    with Database.open(lit_settings).connection() as conn:
        rows = conn.execute(
            "SELECT external_id, drugs, diseases FROM passages WHERE external_id = ANY(%s)",
            (["NCT00461929", "90000001"],),
        ).fetchall()
    found = {str(r[0]): (set(r[1]), set(r[2])) for r in rows}  # type: ignore[call-overload]
    assert "DB00619" in found["NCT00461929"][0]  # imatinib
    assert "MESH:D015464" in found["NCT00461929"][1]  # chronic myeloid leukemia
    assert "DB00682" in found["90000001"][0]  # warfarin


def test_missing_annotations_are_filled_in(lit_settings: Settings) -> None:
    db = Database.open(lit_settings)
    with db.connection() as conn:
        before = conn.execute("SELECT id, drugs, diseases FROM passages ORDER BY id").fetchall()
        conn.execute("UPDATE passages SET drugs = NULL, diseases = NULL WHERE id % 2 = 0")
    assert annotate_missing(db, Annotator.from_settings(lit_settings)) == len(before) // 2
    with db.connection() as conn:
        after = conn.execute("SELECT id, drugs, diseases FROM passages ORDER BY id").fetchall()
    assert after == before


def test_term_statistics_weigh_rare_terms(lit_settings: Settings) -> None:
    with Database.open(lit_settings).connection() as conn:
        rows = conn.execute(
            "SELECT word, idf FROM lexeme_stats WHERE word IN ('patient', 'naloxon')"
        ).fetchall()
    idf = {str(word): float(str(value)) for word, value in rows}
    assert idf["naloxon"] > idf["patient"] > 0


def test_filters_by_drug_and_disease_names_or_ids(search: LiteratureSearch) -> None:
    by_name = search.search("treatment", k=10, filters=Filters(drugs=["Imatinibum", "imatinib"]))
    by_id = search.search("treatment", k=10, filters=Filters(drugs=["DB00619"]))
    assert by_name == by_id and by_id
    assert all("DB00619" in h.drugs for h in by_id)
    assert any("mentions DB00619" in why for why in by_id[0].why)
    both = Filters(drugs=["imatinib"], diseases=["chronic myeloid leukemia"])
    pair = search.search("treatment", k=10, filters=both)
    assert pair and all("MESH:D015464" in h.diseases for h in pair)
    assert len(pair) <= len(by_id)
    with pytest.raises(UnknownEntityError):
        search.search("treatment", filters=Filters(drugs=["notadrugatallzz"]))


def test_pair_query_puts_passages_naming_both_first(search: LiteratureSearch) -> None:
    hits = search.search_pair("DB00619", "chronic myeloid leukemia", k=5)
    both = [h for h in hits if "DB00619" in h.drugs and "MESH:D015464" in h.diseases]
    assert both and hits[: len(both)] == both
    assert "NCT00461929" in {h.external_id for h in both}
    rest = {h.external_id: h.why for h in hits[len(both) :]}
    assert "mentions DB00619" in rest["NCT00004932"]  # imatinib in "leukemia", CML unnamed


def test_hybrid_dense_and_text_modes(search: LiteratureSearch) -> None:
    modes: tuple[Mode, ...] = ("hybrid", "dense", "text")
    for mode in modes:
        hits = search.search("naloxone clonidine", k=3, mode=mode)
        assert hits, mode
        assert any(h.external_id == "227508" for h in hits), mode


def test_reingest_is_idempotent(lit_settings: Settings) -> None:
    before = _rows(lit_settings)
    report = ingest_paths(lit_settings, FILES)
    assert (report.documents_added, report.documents_skipped) == (0, 44)
    assert _rows(lit_settings) == before


def test_killed_ingest_resumes_to_the_same_rows(tmp_path: Path) -> None:
    settings = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path / "home")
    dsn = server_dsn(settings)  # this process keeps the embedded server up
    code = (
        "import sys; from pathlib import Path; from kedrec_agent.config import Settings;"
        "from kedrec_agent.literature.db import Database;"
        "from kedrec_agent.literature.embeddings import Embedder;"
        "from kedrec_agent.literature.annotate import Annotator;"
        "from kedrec_agent.literature.ingest import ingest_documents;"
        "from kedrec_agent.literature.readers import read_documents;"
        f"s = Settings(data_dir=Path({str(FIXTURE_BUNDLE)!r}), home=Path({str(settings.home)!r}),"
        f" pg_dsn={dsn!r});"
        "ingest_documents(Database.open(s), Embedder.from_settings(s),"
        f" read_documents(Path({str(FILES[0])!r})), Annotator.from_settings(s), batch_size=4)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as conn:
                row = (
                    conn.execute(
                        "SELECT count(*) FROM documents WHERE to_regclass('documents') IS NOT NULL"
                    ).fetchone()
                    if _has_documents(conn)
                    else (0,)
                )
            if row and row[0] >= 8:
                break
            time.sleep(0.05)
        child.kill()
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    partial = _rows(settings)
    assert 0 < len({r[1] for r in partial}) < 40, "the run must be killed mid-way"
    report = ingest_paths(settings, [FILES[0]])
    assert report.documents_skipped >= 8
    assert _rows(settings) == _expected([FILES[0]])


def _has_documents(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass('documents') IS NOT NULL").fetchone()
    return bool(row and row[0])


def test_second_server_through_dsn(tmp_path: Path, lit_settings: Settings) -> None:
    other = Settings(data_dir=FIXTURE_BUNDLE, home=tmp_path / "other")
    dsn = server_dsn(other)  # a second, separate Postgres
    via_dsn = replace(lit_settings, home=tmp_path / "unused", pg_dsn=dsn)
    ingest_paths(via_dsn, [LIT / "pubmed_sample.xml"])
    hits = LiteratureSearch.from_settings(via_dsn).search("warfarin bleeding", k=5)
    assert [h.external_id for h in hits] == ["90000001"]
    assert not (tmp_path / "unused" / "pg").exists()  # nothing started for a DSN


def test_bad_queries_are_clear_errors(search: LiteratureSearch, lit_settings: Settings) -> None:
    before = _rows(lit_settings)
    for bad in ("", "   ", "x" * 10_000_000):
        with pytest.raises(InvalidInputError):
            search.search(bad)
    for tricky in ("'; DROP TABLE passages; --", "a & b | !c", "x\\' OR 1=1", "%s %(text)s"):
        search.search(tricky, k=3)  # bound parameters: just text
    with pytest.raises(ValueError):
        Filters(sources=["nowhere"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="extra"):
        Filters(journal=["Lancet"])  # type: ignore[call-arg]
    assert _rows(lit_settings) == before


def test_unreachable_server_names_it() -> None:
    settings = Settings(
        data_dir=FIXTURE_BUNDLE, home=Path("/nonexistent"),
        pg_dsn="postgresql://kedrec@127.0.0.1:9/none?connect_timeout=2",
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1:9"):
        Database.open(settings)
    assert time.monotonic() - started < 15


def test_tool_and_retriever(search: LiteratureSearch) -> None:
    tool = LiteratureSearchTool(search=search)
    message = tool.invoke(
        {"type": "tool_call", "id": "1", "name": tool.name,
         "args": {"query": "naloxone clonidine", "k": 2}}
    )  # fmt: skip
    assert isinstance(message, ToolMessage)
    assert "PMID:227508" in message.content
    assert message.artifact["hits"][0]["citation"] == "PMID:227508"
    bad = tool.invoke({"type": "tool_call", "id": "2", "name": tool.name, "args": {"query": " "}})
    assert "error" in bad.artifact
    docs = LiteratureRetriever(search=search, k=2).invoke("naloxone clonidine")
    assert docs[0].metadata["citation"] == "PMID:227508"
