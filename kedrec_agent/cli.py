"""The ``kedrec`` command: set up the stores, query the knowledge graph, ask about a patient.

Exit codes: 0 ok, 1 a store/config/data error, 2 bad input (unknown names, invalid ids).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from kedrec_agent import __version__
from kedrec_agent.config import get_settings
from kedrec_agent.errors import InvalidInputError, KedrecError, UnknownEntityError

app = typer.Typer(
    help="KEDRec agent: explainable drug recommendation. Decision support for clinicians, "
    "not a prescription.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
kg_app = typer.Typer(help="Query the DRKG knowledge graph (names or ids).", no_args_is_help=True)
app.add_typer(kg_app, name="kg")
lit_app = typer.Typer(
    help="Search and load the literature store (Postgres + pgvector).", no_args_is_help=True
)
app.add_typer(lit_app, name="lit")

out = Console()
err = Console(stderr=True)
P = ParamSpec("P")
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Limit = Annotated[int, typer.Option(min=1, max=50, help="Maximum rows.")]


def _friendly(func: Callable[P, T]) -> Callable[P, T]:
    """Turn expected errors into a one-line message and an exit code (no traceback)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except (UnknownEntityError, InvalidInputError) as exc:
            err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except KedrecError as exc:
            err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


@app.command()
@_friendly
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
@_friendly
def setup(
    force: Annotated[bool, typer.Option(help="Rebuild even if the stores are current.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    literature: Annotated[
        bool, typer.Option(help="Also ingest the bundle's literature into Postgres.")
    ] = True,
) -> None:
    """Build the stores from the data bundle (fast no-op when they are current)."""
    from kedrec_agent.data.bundle import check_bundle
    from kedrec_agent.kg.build import build_store
    from kedrec_agent.linking import Linker

    settings = get_settings()
    check_bundle(settings)
    started = time.perf_counter()
    Linker.build_index(settings, force=force)
    err.print(f"linker index ready ({time.perf_counter() - started:.1f} s)")
    if settings.sparql_endpoint:
        err.print(
            f"KEDREC_SPARQL_ENDPOINT is set: using {settings.sparql_endpoint}, no local build"
        )
    else:
        report = build_store(settings, force=force, progress=progress and sys.stderr.isatty())
        state = "current" if report.cached else f"built in {report.seconds:.1f} s"
        err.print(
            f"knowledge graph {state}: {report.triples:,} triples ({report.drkg_edges:,} "
            f"DRKG edge lines, {report.entities:,} entities) at {report.store}"
        )
    if literature:
        from kedrec_agent.literature.ingest import ingest_bundle

        lit = ingest_bundle(settings, progress=progress and sys.stderr.isatty())
        rate = f", {lit.passages_per_second:.0f} passages/s" if lit.passages_added else ""
        err.print(
            f"literature: {lit.documents_added:,} documents added "
            f"({lit.passages_added:,} passages{rate}), {lit.documents_skipped:,} already stored"
        )
    from kedrec_agent.reasoning.runtime import model_path

    started = time.perf_counter()
    path = model_path(settings)  # dequantises the packaged GGUF once
    err.print(f"reasoning model ready at {path} ({time.perf_counter() - started:.1f} s)")


@app.command("serve-model")
@_friendly
def serve_model(
    port: Annotated[int, typer.Option(help="Port of the OpenAI-compatible API.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to bind (localhost only by default).")] = (
        "127.0.0.1"
    ),
    gguf: Annotated[
        Path | None, typer.Option(help="GGUF model file (default: the packaged SmolLM2).")
    ] = None,
    lora: Annotated[Path | None, typer.Option(help="GGUF LoRA adapter to apply.")] = None,
    parallel: Annotated[int, typer.Option(help="Requests decoded together (slots).")] = 4,
    context: Annotated[int, typer.Option(help="Context tokens per slot.")] = 2048,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all).")] = None,
) -> None:
    """Serve the reasoning model over an OpenAI-compatible API (llama.cpp's server).

    Then: KEDREC_REASONER_BACKEND=openai KEDREC_LLM_BASE_URL=http://127.0.0.1:8080/v1
    kedrec ask "...". Stop with Ctrl-C.
    """
    from kedrec_agent.reasoning.llama_server import ServerOptions, serve_forever

    options = ServerOptions(
        gguf=gguf, lora=lora, host=host, port=port, parallel=parallel, context=context,
        threads=threads,
    )  # fmt: skip
    try:
        serve_forever(options)
    except KeyboardInterrupt:
        err.print("stopped")


def _kg_query(as_json: bool, **request: Any) -> None:
    from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
    from kedrec_agent.kg.tool import KnowledgeGraphInput, run_query
    from kedrec_agent.linking import get_linker

    try:
        parsed = KnowledgeGraphInput(**request)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    text, artifact = run_query(KnowledgeGraph.from_settings(), get_linker(), parsed)
    if as_json:
        out.print_json(json.dumps(artifact, default=str))
    else:
        out.print(text, highlight=False, markup=False)


@kg_app.command("drugs-for")
@_friendly
def drugs_for(disease: str, json_: JsonFlag = False, limit: Limit = 20) -> None:
    """Drugs that treat or palliate DISEASE (all its DOID/MeSH equivalents)."""
    _kg_query(json_, operation="drugs_for_disease", disease=disease, limit=limit)


@kg_app.command()
@_friendly
def paths(drug: str, disease: str, json_: JsonFlag = False, limit: Limit = 10) -> None:
    """Mechanism paths DRUG -> gene -> DISEASE, best first."""
    _kg_query(json_, operation="mechanism_paths", drug=drug, disease=disease, limit=limit)


@kg_app.command()
@_friendly
def interactions(
    drugs: Annotated[list[str], typer.Argument(help="Two to twenty drug names or ids.")],
    json_: JsonFlag = False,
    limit: Limit = 50,
) -> None:
    """Known interactions among DRUGS (every pair)."""
    _kg_query(json_, operation="interactions", drugs=drugs, limit=limit)


@kg_app.command()
@_friendly
def genes(drug: str, json_: JsonFlag = False, limit: Limit = 20) -> None:
    """Targets, enzymes, transporters and carriers of DRUG."""
    _kg_query(json_, operation="drug_genes", drug=drug, limit=limit)


@kg_app.command("disease-genes")
@_friendly
def disease_genes(disease: str, json_: JsonFlag = False, limit: Limit = 20) -> None:
    """Genes associated with DISEASE."""
    _kg_query(json_, operation="disease_genes", disease=disease, limit=limit)


@kg_app.command()
@_friendly
def symptoms(disease: str, json_: JsonFlag = False, limit: Limit = 20) -> None:
    """Symptoms of DISEASE."""
    _kg_query(json_, operation="disease_symptoms", disease=disease, limit=limit)


@kg_app.command()
@_friendly
def facts(drug: str, json_: JsonFlag = False) -> None:
    """Everything the graph says about DRUG."""
    _kg_query(json_, operation="drug_facts", drug=drug, limit=1)


@kg_app.command()
@_friendly
def candidates(disease: str, json_: JsonFlag = False, limit: Limit = 20) -> None:
    """Drugs acting on genes associated with DISEASE (no treats edge needed)."""
    _kg_query(json_, operation="drugs_targeting_disease_genes", disease=disease, limit=limit)


@lit_app.command("search")
@_friendly
def lit_search(
    query: str,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Number of hits.")] = 5,
    source: Annotated[list[str] | None, typer.Option(help="pubmed, ctgov or user.")] = None,
    mesh: Annotated[
        list[str] | None, typer.Option(help="MeSH id the source annotated the passage with.")
    ] = None,
    drug: Annotated[
        list[str] | None, typer.Option(help="Drug (name or DrugBank id) the passage mentions.")
    ] = None,
    disease: Annotated[
        list[str] | None, typer.Option(help="Disease (name, MeSH id or DOID) it mentions.")
    ] = None,
    year_from: Annotated[int | None, typer.Option(help="Earliest year.")] = None,
    year_to: Annotated[int | None, typer.Option(help="Latest year.")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or text.")] = "hybrid",
    json_: JsonFlag = False,
) -> None:
    """Hybrid (vector + full-text) search of PubMed abstracts and trials, with citations.

    Repeated --drug (or --disease) options mean any of them; --drug with --disease means
    passages that mention one of each.
    """
    from pydantic import ValidationError

    from kedrec_agent.literature.search import Filters, LiteratureSearch
    from kedrec_agent.literature.tool import render_hits

    try:
        filters = Filters(
            sources=source,  # type: ignore[arg-type]
            mesh=mesh,
            drugs=drug,
            diseases=disease,
            year_from=year_from,
            year_to=year_to,
        )
    except ValidationError as exc:
        raise InvalidInputError(f"Invalid filter: {exc.errors()[0]['msg']}") from exc
    hits = LiteratureSearch.from_settings().search(query, k=k, filters=filters, mode=mode)  # type: ignore[arg-type]
    if json_:
        out.print_json(json.dumps([h.model_dump() for h in hits]))
    else:
        out.print(render_hits(query, hits), highlight=False, markup=False)


@lit_app.command("ingest")
@_friendly
def lit_ingest(
    paths: Annotated[list[Path], typer.Argument(help="PubMed XML, PubTator, CT.gov JSON(L)...")],
    source: Annotated[str | None, typer.Option(help="Store as this source (e.g. user).")] = None,
) -> None:
    """Add your own literature files (resumable; already stored documents are skipped)."""
    from kedrec_agent.literature.ingest import ingest_paths
    from kedrec_agent.literature.readers import SOURCES

    if source is not None and source not in SOURCES:
        raise InvalidInputError(f"--source must be one of {', '.join(SOURCES)}")
    report = ingest_paths(get_settings(), paths, source=source, progress=sys.stderr.isatty())
    err.print(
        f"{report.documents_added:,} documents added ({report.passages_added:,} passages), "
        f"{report.documents_skipped:,} already stored, {report.seconds:.1f} s"
    )


@app.command()
@_friendly
def link(
    text: str,
    kind: Annotated[
        str | None, typer.Option(help="drug, disease or substance (default: any)")
    ] = None,
    json_: JsonFlag = False,
    limit: Limit = 5,
) -> None:
    """Rank the vocabulary entries that TEXT may name (with scores)."""
    from kedrec_agent.linking import get_linker

    if kind not in (None, "drug", "disease", "substance"):
        raise InvalidInputError("--kind must be drug, disease or substance")
    found = get_linker().candidates(text, kind, limit)  # type: ignore[arg-type]
    if json_:
        out.print_json(json.dumps([asdict(c) for c in found]))
        return
    if not found:
        err.print("no similar name is known")
        raise typer.Exit(2)
    for c in found:
        out.print(f"{c.score:5.1f}  {c.kind:9} {c.id:14} {c.name}  (matched {c.matched!r})")


def _patient_source(
    text: str | None, patient_file: Path | None, mimic: int | None, synthea: str | None
) -> Any:
    given = [x is not None for x in (text, patient_file, mimic, synthea)]
    if sum(given) != 1:
        raise InvalidInputError(
            "Describe one patient: a text argument, --patient-file, --mimic or --synthea."
        )
    from kedrec_agent import patients

    if patient_file is not None:
        return patients.load_patient(patient_file)
    if mimic is not None:
        return patients.from_mimic(mimic)
    if synthea is not None:
        return patients.from_synthea(synthea)
    return text


@app.command()
@_friendly
def ask(
    patient: Annotated[
        str | None, typer.Argument(help="Free-text patient description.", show_default=False)
    ] = None,
    patient_file: Annotated[
        Path | None,
        typer.Option(help="A .json (structured fields or FHIR R4 Bundle) or .txt patient."),
    ] = None,
    mimic: Annotated[int | None, typer.Option(help="A MIMIC-III admission id (HADM_ID).")] = None,
    synthea: Annotated[str | None, typer.Option(help="A Synthea patient id.")] = None,
    json_: JsonFlag = False,
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Candidates per condition.")] = 5,
    literature: Annotated[
        bool, typer.Option(help="Search the literature for each candidate.")
    ] = True,
) -> None:
    """Recommend drugs for a patient, with cited evidence and safety warnings.

    Example: kedrec ask "68-year-old with type 2 diabetes and hypertension, on warfarin"
    """
    from kedrec_agent.agent.result import AgentResult
    from kedrec_agent.api import default_graph, graph_input, make_context

    inputs = graph_input(_patient_source(patient, patient_file, mimic, synthea))
    context = make_context(top_k=top_k, literature=literature)
    if json_:
        output = default_graph().invoke(inputs, context=context)
        out.print_json(json.dumps(output["result"]))
        return
    final: dict[str, Any] = {}
    answers: dict[str, str] = {}
    with out.status("link…") as status:
        for mode, chunk in default_graph().stream(
            inputs, context=context, stream_mode=["custom", "values"]
        ):
            if mode == "values":
                final = chunk
            elif "token" in chunk:  # the model's answers as they are written, on the status line
                key = chunk.get("condition") or ""  # conditions are answered together
                answers[key] = (answers.get(key, "") + chunk["token"]).replace("\n", " ")
                status.update(f"reason… [dim]{escape(answers[key][-70:])}[/dim]")
            elif chunk["status"] == "started":
                status.update(f"{chunk['stage'].replace('_', ' ')}…")
            else:
                out.print(f"[green]✓[/green] {chunk['stage']} ({chunk['ms']:.0f} ms)")
    _print_result(AgentResult.model_validate(final["result"]))


def _print_result(result: Any) -> None:
    out.rule("KEDRec — decision support for a clinician, not a prescription")
    for warning in result.warnings:  # safety first, never dropped
        label = {"veto": "WITHHELD", "warning": "WARNING"}[warning.severity]
        out.print(f"[bold red]{label}[/bold red] {escape(warning.message)}", highlight=False)
    for note in result.notes:
        out.print(f"[yellow]Note:[/yellow] {escape(note)}", highlight=False)
    p = result.patient
    out.print(
        "patient: "
        + "; ".join(
            f"{what}: {', '.join(e.name for e in items) or '-'}"
            for what, items in (
                ("conditions", p.conditions),
                ("medications", p.medications),
                ("allergies", p.allergies),
            )
        )
        + ("; pregnant" if p.pregnant else ""),
        highlight=False,
    )
    if result.abstained:
        out.print(f"[bold yellow]No recommendation:[/bold yellow] {escape(result.reason)}")
    references: dict[str, int] = {}
    for answer, drugs in result.grouped():
        if answer is not None and answer.status != "options":
            # The reason names its condition ("Anemia: treated by ..."): shown as it is.
            out.print(escape(answer.reason), highlight=False)
            continue
        if answer is not None:
            sure = f" (confidence {answer.confidence:.2f})" if answer.confidence is not None else ""
            out.print(f"[bold]{escape(answer.condition.name)}[/bold]:{sure}", highlight=False)
        for drug in drugs:
            cites = [references.setdefault(e.id, len(references) + 1) for e in drug.evidence]
            score = drug.backing() + (", alternative" if drug.alternative else "")
            rationale = _numbered(drug.rationale, references)
            out.print(
                f"  {drug.rank}. [bold]{escape(drug.name)}[/bold] ({drug.drug_id}, {score}): "
                f"{escape(rationale)} " + escape("".join(f"[{n}]" for n in cites)),
                highlight=False,
            )
    if result.abstained:
        return
    items = {e.id: e for d in result.recommendations for e in d.evidence}
    for eid, number in references.items():
        item = items[eid]
        source = item.citation or "knowledge graph"
        out.print(f"  [{number}] {source}: {item.text[:200]}", highlight=False, markup=False)
    how = _confidence_source(result)
    out.print(
        f"confidence {result.confidence or 0:.2f} ({how}"
        f"{', LOW' if result.low_confidence else ''}); model {result.versions.model}; "
        f"data {result.versions.data}",
        highlight=False,
    )


_CITED = re.compile(r"\[?\b(E\d+)\b\]?")


def _numbered(rationale: str, references: dict[str, int]) -> str:
    """The rationale with its evidence ids (``[E12]``) as the printed reference numbers."""
    return _CITED.sub(
        lambda m: f"[{references[m.group(1)]}]" if m.group(1) in references else m.group(0),
        rationale,
    )


def _confidence_source(result: Any) -> str:
    """Where the answer's confidence and order come from, in words."""
    ranker = any(d.probability is not None for d in result.recommendations)
    if result.fallback:
        return "ranked by the evidence ranker: the model's answer was unusable"
    return "learned ranker's calibrated probability; model explains" if ranker else "model"


def _add_plugins() -> None:
    """Sub-commands other packages register (entry point group ``kedrec.cli``), e.g. train."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="kedrec.cli"):
        try:
            app.add_typer(entry.load(), name=entry.name)
        except ImportError as exc:  # a plugin whose extra is not installed
            logging.getLogger(__name__).debug("kedrec %s unavailable: %s", entry.name, exc)


_add_plugins()
