"""Build the on-disk RDF store from DRKG-format TSV files and the bundle's name tables.

The build streams N-Triples into pyoxigraph's bulk loader (nothing is held in memory but
the entity set and one 8-byte hash per emitted triple), verifies that the store holds
exactly the distinct triples that were emitted, and writes a stamp so that a re-run with
unchanged inputs returns at once. The new store is built beside the old one and swapped in
only when it verified, so an interrupted build never leaves a broken store behind.

Example:
    >>> from kedrec_agent.config import get_settings
    >>> report = build_store(get_settings())  # doctest: +SKIP
    >>> report.triples  # doctest: +SKIP
    1893402
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import time
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyoxigraph as ox
from tqdm import tqdm

from kedrec_agent.config import Settings
from kedrec_agent.data import bundle
from kedrec_agent.data.drkg import iter_triples, open_text, split_entity
from kedrec_agent.data.names import (
    iter_disease_names,
    iter_doid_mesh_xrefs,
    iter_drugbank_vocabulary,
    iter_hetionet_nodes,
    iter_mesh_symptoms,
    iter_mesh_terms,
)
from kedrec_agent.errors import KedrecError, StoreBuildError
from kedrec_agent.kg import relations, vocab
from kedrec_agent.linking.diseases import DiseaseEquivalences

log = logging.getLogger(__name__)

BUILD_VERSION = 1
STAMP_NAME = "build.json"
_CHUNK_LINES = 4096


class BuildVerificationError(KedrecError):
    """The built store does not hold exactly the triples that were emitted."""


@dataclass
class BuildReport:
    """What a build did (or found already done).

    Attributes:
        store: path of the Oxigraph store.
        triples: distinct triples in the store.
        drkg_edges: DRKG-format edge lines read (graph + DDI files, duplicates included).
        entities: distinct entities seen in the edges.
        seconds: wall time of the build (of the original build when ``cached``).
        cached: True when the inputs were unchanged and nothing was rebuilt.
        inputs: the stamp of each input file.
    """

    store: str
    triples: int
    drkg_edges: int
    entities: int
    seconds: float
    cached: bool = False
    inputs: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildInputs:
    """Every file the graph is built from; users may swap in their own DRKG-format files."""

    graph: tuple[Path, ...]
    typed_ddi: Path | None
    ddi_types: Path | None
    glossary: Path | None
    xrefs: Path
    drugbank_vocabulary: Path
    mesh_terms: Path
    disease_names: Path
    hetionet_nodes: Path
    mesh_symptoms: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildInputs:
        """The bundle's files, or ``KEDREC_DRKG`` in place of the subset and DDI edge files.

        The full ``drkg.tsv`` has its own DDI edges, so the bundle's are not added to it.
        """
        if settings.drkg_path is not None:
            graph: tuple[Path, ...] = (settings.drkg_path,)
        else:
            graph = (settings.data_file(bundle.KG_SUBSET), *map(settings.data_file, bundle.KG_DDI))
        return cls(
            graph=graph,
            typed_ddi=settings.data_file(bundle.KG_DDI_TYPED),
            ddi_types=settings.data_file(bundle.KG_DDI_TYPES),
            glossary=settings.data_file(bundle.KG_RELATION_GLOSSARY),
            xrefs=settings.data_file(bundle.DOID_MESH_XREFS),
            drugbank_vocabulary=settings.data_file(bundle.DRUGBANK_VOCABULARY),
            mesh_terms=settings.data_file(bundle.MESH_TERMS),
            disease_names=settings.data_file(bundle.DISEASE_NAME_TO_MESH),
            hetionet_nodes=settings.data_file(bundle.HETIONET_NODES),
            mesh_symptoms=settings.data_file(bundle.MESH_SYMPTOMS),
        )

    def paths(self) -> list[Path]:
        """All input paths, in a stable order."""
        optional = (self.typed_ddi, self.ddi_types, self.glossary)
        named = (
            self.xrefs,
            self.drugbank_vocabulary,
            self.mesh_terms,
            self.disease_names,
            self.hetionet_nodes,
            self.mesh_symptoms,
        )
        return [*self.graph, *(p for p in optional if p is not None), *named]

    def stamp(self) -> dict[str, list[int]]:
        """(size, mtime_ns) of every input: a changed input means a rebuild."""
        return {str(p.resolve()): [p.stat().st_size, p.stat().st_mtime_ns] for p in self.paths()}


# --- N-Triples writing ---------------------------------------------------------------------


def _literal(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _iri(value: str) -> str:
    return f"<{value}>"


_TYPE = _iri(vocab.RDF_TYPE)
_LABEL = _iri(vocab.RDFS_LABEL)
_COMMENT = _iri(vocab.RDFS_COMMENT)
_EXACT = _iri(vocab.SKOS_EXACT_MATCH)
_CANONICAL = _iri(vocab.CANONICAL)
_CATEGORY = _iri(vocab.CATEGORY)


class _LineStream(io.RawIOBase):
    """A readable binary stream over an iterator of N-Triples lines (for bulk_load)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = [line for _, line in zip(range(_CHUNK_LINES), self._lines, strict=False)]
            if not chunk:
                return 0
            self._buffer = "".join(chunk).encode("utf-8")
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class _TripleWriter:
    """Emits N-Triples lines and remembers a hash of each (to verify the load)."""

    def __init__(self, inputs: BuildInputs, progress: bool) -> None:
        self.inputs = inputs
        self.progress = progress
        self.hashes = array("q")
        self.entities: dict[str, str] = {}  # DRKG entity name -> its IRI (N-Triples form)
        self.relations: set[str] = set()
        self.edges = 0

    def _emit(self, line: str) -> str:
        self.hashes.append(hash(line))
        return line

    def lines(self) -> Iterator[str]:
        yield from self._edges()
        yield from self._typed_interactions()
        yield from self._relation_nodes()
        yield from self._entity_nodes()

    def _entity(self, name: str) -> str:
        iri = self.entities.get(name)
        if iri is None:
            split_entity(name)  # validates Type::id
            iri = self.entities[name] = _iri(vocab.entity_iri(name))
        return iri

    def _edges(self) -> Iterator[str]:
        relation_iris: dict[str, str] = {}
        for path in self.inputs.graph:
            for head, rel, tail in tqdm(
                iter_triples(path), desc=f"graph {path.name}", unit=" edges",
                disable=not self.progress, mininterval=1.0,
            ):  # fmt: skip
                rel_iri = relation_iris.get(rel)
                if rel_iri is None:
                    rel_iri = relation_iris[rel] = _iri(vocab.relation_iri(rel))
                    self.relations.add(rel)
                self.edges += 1
                yield self._emit(f"{self._entity(head)} {rel_iri} {self._entity(tail)} .\n")

    def _typed_interactions(self) -> Iterator[str]:
        if self.inputs.typed_ddi is None or self.inputs.ddi_types is None:
            return
        with open_text(self.inputs.ddi_types) as handle:
            next(handle)
            for line in handle:
                type_id, template, _, subject, label = line.rstrip("\r\n").split("\t")
                node = _iri(vocab.DDI_TYPE + type_id)
                yield self._emit(f"{node} {_TYPE} {_iri(vocab.INTERACTION_TYPE)} .\n")
                yield self._emit(f"{node} {_LABEL} {_literal(label)} .\n")
                yield self._emit(f"{node} {_iri(vocab.TEMPLATE)} {_literal(template)} .\n")
                slot = f'"{int(subject)}"^^<http://www.w3.org/2001/XMLSchema#integer>'
                yield self._emit(f"{node} {_iri(vocab.SUBJECT_SLOT)} {slot} .\n")
                category = _iri(vocab.category_iri(relations.TYPED_INTERACTION))
                yield self._emit(f"{node} {_CATEGORY} {category} .\n")
        with open_text(self.inputs.typed_ddi) as handle:
            next(handle)
            for line in tqdm(handle, desc="typed DDI", disable=not self.progress, mininterval=1):
                drug1, drug2, type_id = line.split("\t", 3)[:3]
                a = self._entity(f"Compound::{drug1}")
                b = self._entity(f"Compound::{drug2}")
                yield self._emit(f"{a} {_iri(vocab.DDI_TYPE + type_id)} {b} .\n")

    def _relation_nodes(self) -> Iterator[str]:
        glossary: dict[str, str] = {}
        if self.inputs.glossary is not None:
            with open_text(self.inputs.glossary) as handle:
                next(handle)
                for line in handle:
                    cols = line.rstrip("\r\n").split("\t")
                    if len(cols) >= 5:
                        glossary[cols[0]] = cols[4]
        for rel in sorted(self.relations):
            node = _iri(vocab.relation_iri(rel))
            yield self._emit(f"{node} {_TYPE} {_iri(vocab.RELATION_CLASS)} .\n")
            yield self._emit(f"{node} {_LABEL} {_literal(rel)} .\n")
            category = _iri(vocab.category_iri(relations.categorize(rel)))
            yield self._emit(f"{node} {_CATEGORY} {category} .\n")
            if rel in glossary:
                yield self._emit(f"{node} {_COMMENT} {_literal(glossary[rel])} .\n")

    def _labels(self) -> dict[str, str]:
        """DRKG entity name -> display name, from the name tables (first source wins)."""
        labels: dict[str, str] = {}
        for record in iter_drugbank_vocabulary(self.inputs.drugbank_vocabulary):
            labels.setdefault(f"Compound::{record.drugbank_id}", record.name)
        for mesh_id, name in iter_mesh_terms(self.inputs.mesh_terms):
            labels.setdefault(f"Disease::MESH:{mesh_id}", name)
        for mesh_id, name in iter_mesh_symptoms(self.inputs.mesh_symptoms):
            labels.setdefault(f"Symptom::{mesh_id}", name)
        for node, name, _kind in iter_hetionet_nodes(self.inputs.hetionet_nodes):
            labels.setdefault(node, name)
        for name, mesh_id in iter_disease_names(self.inputs.disease_names):
            labels.setdefault(f"Disease::MESH:{mesh_id}", name)
        return labels

    def _entity_nodes(self) -> Iterator[str]:
        labels = self._labels()
        pairs = list(iter_doid_mesh_xrefs(self.inputs.xrefs))
        equivalences = DiseaseEquivalences.from_pairs(pairs)
        types: dict[str, str] = {}
        for name, iri in self.entities.items():
            kind, local = split_entity(name)
            type_node = types.get(kind)
            if type_node is None:
                type_node = types[kind] = _iri(vocab.type_iri(kind))
            yield self._emit(f"{iri} {_TYPE} {type_node} .\n")
            label = labels.get(name)
            if label:
                yield self._emit(f"{iri} {_LABEL} {_literal(label)} .\n")
            if kind == "Disease":
                concept = _iri(vocab.concept_iri(equivalences.canonical(local)))
                yield self._emit(f"{iri} {_CANONICAL} {concept} .\n")
        for doid, mesh in pairs:
            left = _iri(vocab.entity_iri(f"Disease::{doid}"))
            right = _iri(vocab.entity_iri(f"Disease::{mesh}"))
            yield self._emit(f"{left} {_EXACT} {right} .\n")

    def distinct(self) -> int:
        """Number of distinct triples emitted (64-bit hashes; collisions are negligible)."""
        return int(np.unique(np.frombuffer(self.hashes, dtype=np.int64)).size)


# --- build orchestration -------------------------------------------------------------------


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """Serialise builds across processes (a second `kedrec setup` waits, then finds it done)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_stamp(settings: Settings) -> BuildReport | None:
    """The report of the last successful build, or None when there is no valid store."""
    stamp = settings.kg_dir / STAMP_NAME
    if not stamp.is_file() or not settings.kg_store_dir.is_dir():
        return None
    try:
        data = json.loads(stamp.read_text())
        if data.pop("version", None) != BUILD_VERSION:
            return None
        return BuildReport(**data)
    except (ValueError, TypeError):
        return None


def data_version(settings: Settings) -> str:
    """The KG an agent reads, as recorded in answers.

    A hash of its build stamp's inputs (``kg:<12 hex>``), ``sparql:<endpoint>`` for a
    remote endpoint, or ``unbuilt``.
    """
    if settings.sparql_endpoint:
        return f"sparql:{settings.sparql_endpoint}"
    stamp = read_stamp(settings)
    if stamp is None:
        return "unbuilt"
    digest = hashlib.sha256(json.dumps(stamp.inputs, sort_keys=True).encode()).hexdigest()
    return f"kg:{digest[:12]}"


def _disk_full(exc: BaseException) -> bool:
    """True for "no space left" (pyoxigraph's RocksDB errors carry it only in the text)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a renamed temporary file: all of it or nothing."""
    scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with scratch.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        scratch.replace(path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def count_triples(store: ox.Store) -> int:
    """Number of triples in the default graph of ``store``."""
    result = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert isinstance(result, ox.QuerySolutions)
    return int(next(iter(result))[0].value)


def load_lines(store: ox.Store, lines: Iterable[str]) -> None:
    """Bulk-load N-Triples lines into ``store`` without materialising them."""
    stream = io.BufferedReader(_LineStream(iter(lines)), buffer_size=1 << 20)
    store.bulk_load(input=stream, format=ox.RdfFormat.N_TRIPLES, lenient=True)


def build_store(settings: Settings, *, force: bool = False, progress: bool = True) -> BuildReport:
    """Build (or find current) the knowledge-graph store under ``settings.kg_dir``.

    Args:
        settings: where the inputs are and where the store goes.
        force: rebuild even when the stamp says the store is current.
        progress: show progress bars on stderr.

    Returns:
        The build report; ``cached`` is True when nothing had to be done.

    Raises:
        DataMissingError: an input file is missing.
        InvalidInputError: a DRKG line is malformed (the file and line are named).
        BuildVerificationError: the store does not hold exactly the emitted triples.
        StoreBuildError: the disk filled up; no partial store or stamp is left behind, so
            the graph is "not built" until a build completes.
    """
    inputs = BuildInputs.from_settings(settings)
    stamp = inputs.stamp()
    with _build_lock(settings.kg_dir):
        current = read_stamp(settings)
        if current is not None and current.inputs == stamp and not force:
            current.cached = True
            return current
        started = time.perf_counter()
        scratch = settings.kg_dir / f"oxigraph.building-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        writer = _TripleWriter(inputs, progress)
        store = ox.Store(str(scratch))
        try:
            load_lines(store, writer.lines())
            expected, stored = writer.distinct(), count_triples(store)
            if stored != expected:
                raise BuildVerificationError(
                    f"The store holds {stored} triples but {expected} distinct triples were "
                    "emitted; the build was discarded."
                )
            store.flush()
            del store
            (settings.kg_dir / STAMP_NAME).unlink(missing_ok=True)
            shutil.rmtree(settings.kg_store_dir, ignore_errors=True)
            scratch.rename(settings.kg_store_dir)
        except BaseException as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            if _disk_full(exc):
                raise StoreBuildError(
                    f"No space left on the disk of {settings.kg_dir} while building the "
                    "knowledge-graph store; the partial build was removed. Free some space "
                    "and run `kedrec setup` again."
                ) from exc
            raise
        report = BuildReport(
            store=str(settings.kg_store_dir),
            triples=stored,
            drkg_edges=writer.edges,
            entities=len(writer.entities),
            seconds=round(time.perf_counter() - started, 2),
            inputs=stamp,
        )
        payload = {"version": BUILD_VERSION, **asdict(report)}
        payload.pop("cached")
        try:  # the stamp is what marks the store complete: written whole or not at all
            _write_atomically(settings.kg_dir / STAMP_NAME, json.dumps(payload, indent=1))
        except OSError as exc:
            if _disk_full(exc):
                raise StoreBuildError(
                    f"No space left on the disk of {settings.kg_dir} while finishing the "
                    "knowledge-graph store; it is not marked complete. Free some space and "
                    "run `kedrec setup` again."
                ) from exc
            raise
        log.info("built the KG store: %d triples in %.1f s", stored, report.seconds)
        return report
