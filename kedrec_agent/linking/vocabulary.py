"""The linker's name index: built from the bundle's name tables, cached on disk.

Sources (paths in :mod:`kedrec_agent.data.bundle`):

* drugs: DrugBank common names (priority 0), synonyms (1) and Hetionet compound names
  (2); CAS and UNII codes as ids; DrugBank names less their hydrate words (3: "Ferrous
  sulfate anhydrous" as "ferrous sulfate"), only under keys that name no drug otherwise
  (:func:`~kedrec_agent.linking.forms.without_hydrate`);
* diseases: MeSH descriptors in the disease trees (``C``, ``F03``; priority 0), Hetionet
  ``Disease`` nodes (DOIDs; 0), ``disease_name_to_mesh.tsv`` (1 for a descriptor ``D…``,
  2 for a supplementary concept ``C…``; rows whose id is not a MeSH id are skipped),
  Hetionet ``Symptom`` nodes (1);
* substances: MeSH descriptors in the chemicals-and-drugs tree (``D``) whose name is not a
  DrugBank drug name, e.g. the drug class Penicillins (priority 0);
* a few curated clinical abbreviations and lay terms (:data:`CURATED_ALIASES`, priority 1),
  each bound to a vocabulary *name*, so they follow the data and vanish when it lacks it;
* ICD-9 titles (MIMIC-III ``D_ICD_DIAGNOSES``) and the DOID <-> MeSH cross references;
* when the bundle has the BC5CDR corpus (``literature/bc5cdr/*.PubTator.txt``), the
  one-word drug and disease names that are mostly *not* entities in running text (they
  occur at least :data:`COMMON_MIN_COUNT` times and overlap an annotated chemical or
  disease mention less than :data:`COMMON_MAX_RATIO` of the time: ``brain``, ``cold``,
  ``same``, ``date``, ``weight``). Free-text extraction ignores them; exact linking does not.

Every name is indexed under its normalised key (:func:`~kedrec_agent.linking.normalize.
normalize`), MeSH headings also in natural order. A key that names several ids keeps them
best first: lower priority; then a name that normalisation did not strip of brackets or
signs (``Albuterol`` before ``(-)-Albuterol``); then an id whose preferred name shares a
word with the key (``cold``: Common Cold before COPD, whose table alias is "cold"); then a
DrugBank id or MeSH descriptor before a DOID before a MeSH supplementary concept; then the
id with more names; then the id itself (so the order is deterministic).

The index is pickled to ``<cache_dir>/linker-index.pkl`` after a stamp of its inputs
(path, size, mtime) and :data:`INDEX_VERSION`, so checking that the cache is current reads
only the stamp; a stale or unreadable cache is rebuilt.

Example:
    >>> from kedrec_agent.config import get_settings
    >>> index, path = load_or_build(get_settings())  # doctest: +SKIP
    >>> index.exact["imatinib"][0].id  # doctest: +SKIP
    'DB00619'
"""

from __future__ import annotations

import bisect
import logging
import os
import pickle
import re
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from kedrec_agent.config import Settings
from kedrec_agent.data import bundle
from kedrec_agent.data.drkg import open_text
from kedrec_agent.data.names import (
    iter_disease_names,
    iter_doid_mesh_xrefs,
    iter_drugbank_vocabulary,
    iter_hetionet_nodes,
    iter_icd9_titles,
    iter_mesh_terms,
    read_mesh_tree_numbers,
)
from kedrec_agent.linking.forms import HYDRATE_WORDS, without_hydrate
from kedrec_agent.linking.normalize import name_variants, normalize, spans

log = logging.getLogger(__name__)

INDEX_VERSION = 4
INDEX_FILE = "linker-index.pkl"
COMMON_MIN_COUNT = 4
COMMON_MAX_RATIO = 0.4
EntityKind = Literal["drug", "disease", "substance"]
KINDS: tuple[EntityKind, ...] = ("drug", "disease", "substance")
# MeSH trees: C = diseases, F03 = mental disorders, D = chemicals and drugs.
_DISEASE_TREES = ("C", "F03")
_SUBSTANCE_TREES = ("D",)
_MESH_ID = re.compile(r"^[CD]\d{6,9}$")
# Characters whose loss in normalisation merges different entities ("(-)-", "(+)-", "[Leu1]").
_LOSSY = re.compile(r"[()\[\]{}+\u00b1]")

CURATED_ALIASES: tuple[tuple[str, EntityKind, str], ...] = (
    # (alias, kind, vocabulary name it stands for)
    ("diabetes", "disease", "Diabetes Mellitus"),
    ("HTN", "disease", "Hypertension"),
    ("high blood pressure", "disease", "Hypertension"),
    ("T2D", "disease", "Diabetes Mellitus, Type 2"),
    ("T2DM", "disease", "Diabetes Mellitus, Type 2"),
    ("DM2", "disease", "Diabetes Mellitus, Type 2"),
    ("T1D", "disease", "Diabetes Mellitus, Type 1"),
    ("T1DM", "disease", "Diabetes Mellitus, Type 1"),
    ("DM1", "disease", "Diabetes Mellitus, Type 1"),
    ("AFib", "disease", "Atrial Fibrillation"),
    ("A-fib", "disease", "Atrial Fibrillation"),
    ("CAD", "disease", "Coronary Artery Disease"),
    ("CHF", "disease", "Heart Failure"),
    ("COPD", "disease", "Pulmonary Disease, Chronic Obstructive"),
    ("CKD", "disease", "Renal Insufficiency, Chronic"),
    # MeSH entry terms of Acute Kidney Injury ("renal failure" alone is the broader heading)
    ("AKI", "disease", "Acute Kidney Injury"),
    ("acute renal failure", "disease", "Acute Kidney Injury"),
    ("acute kidney failure", "disease", "Acute Kidney Injury"),
    ("GERD", "disease", "Gastroesophageal Reflux"),
    ("OSA", "disease", "Sleep Apnea, Obstructive"),
    ("HLD", "disease", "Hyperlipidemias"),
    ("high cholesterol", "disease", "Hypercholesterolemia"),
    ("MI", "disease", "Myocardial Infarction"),
    ("heart attack", "disease", "Myocardial Infarction"),
    ("CVA", "disease", "Stroke"),
    ("TIA", "disease", "Ischemic Attack, Transient"),
    ("DVT", "disease", "Venous Thrombosis"),
    ("BPH", "disease", "Prostatic Hyperplasia"),
    ("UTI", "disease", "Urinary Tract Infections"),
    ("MDD", "disease", "Depressive Disorder, Major"),
    ("depression", "disease", "Depressive Disorder"),
    ("HCTZ", "drug", "Hydrochlorothiazide"),
    ("APAP", "drug", "Acetaminophen"),
    ("insulin", "drug", "Insulin human"),
    ("sulfa", "substance", "Sulfonamides"),
    ("sulfa drugs", "substance", "Sulfonamides"),
    ("statins", "substance", "Hydroxymethylglutaryl-CoA Reductase Inhibitors"),
    ("NSAIDs", "substance", "Anti-Inflammatory Agents, Non-Steroidal"),
    ("ACE inhibitors", "substance", "Angiotensin-Converting Enzyme Inhibitors"),
    ("beta blockers", "substance", "Adrenergic beta-Antagonists"),
    ("contrast dye", "substance", "Contrast Media"),
)


class Entry(NamedTuple):
    """One name of one entity.

    Attributes:
        id: ``DB00619``, ``MESH:D003924``, ``DOID:9352``.
        kind: ``"drug"``, ``"disease"`` or ``"substance"``.
        priority: 0 = preferred name; higher = weaker source (see the module docstring).
        name: the vocabulary name as written (or its natural-order MeSH reading).
        curated: a curated clinical abbreviation or lay term.
    """

    id: str
    kind: EntityKind
    priority: int
    name: str
    curated: bool = False

    @property
    def abbreviation(self) -> bool:
        """An all-capitals short name (``COPD``, ``ASA``): in free text only as capitals."""
        letters = [ch for ch in self.name if ch.isalpha()]
        return self.name.isupper() and len(letters) <= 6


def _id_rank(entity_id: str) -> int:
    if entity_id.startswith(("DB", "MESH:D")):
        return 0
    return 1 if entity_id.startswith("DOID:") else 2


@dataclass
class NameIndex:
    """Everything the linker needs, picklable.

    Attributes:
        stamp: the inputs' (size, mtime) and the index version it was built from.
        exact: normalised name -> its entries, best first.
        preferred: id -> display name (DrugBank common name, MeSH heading, Hetionet name).
        kinds: id -> kind, for every linkable id.
        codes: upper-case CAS / UNII code -> DrugBank id.
        icd9: ICD-9 code without dot (``25000``) -> (short title, long title).
        xrefs: DOID <-> MeSH pairs.
        fuzzy: kind -> the keys naming an entity of that kind, sorted by (length, key).
        postings: kind -> token -> positions (in ``fuzzy[kind]``) of the keys holding it.
        common_words: one-word keys that running text mostly uses as ordinary words.
    """

    stamp: dict[str, list[int]]
    exact: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    preferred: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, EntityKind] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    icd9: dict[str, tuple[str, str]] = field(default_factory=dict)
    xrefs: list[tuple[str, str]] = field(default_factory=list)
    fuzzy: dict[str, list[str]] = field(default_factory=dict)
    postings: dict[str, dict[str, array[int]]] = field(default_factory=dict)
    common_words: frozenset[str] = frozenset()

    def lookup(self, key: str, kind: EntityKind | None = None) -> tuple[Entry, ...]:
        """Entries of a normalised key (optionally of one kind), best first."""
        found = self.exact.get(key, ())
        if kind is None:
            return found
        return tuple(e for e in found if e.kind == kind)


class _Builder:
    """Collects names, then freezes them into a :class:`NameIndex`."""

    def __init__(self, stamp: dict[str, list[int]]) -> None:
        self.index = NameIndex(stamp=stamp)
        self.names: dict[str, dict[str, Entry]] = {}

    def add(
        self, name: str, entity_id: str, kind: EntityKind, priority: int, curated: bool = False
    ) -> None:
        """Index ``name`` (and its natural-order variant) for ``entity_id``."""
        name = name.strip()
        if not name:
            return
        entity_id = sys.intern(entity_id)
        self.index.kinds.setdefault(entity_id, kind)
        self.index.preferred.setdefault(entity_id, name)
        for variant in name_variants(name):
            key = normalize(variant)
            if not key:
                continue
            by_id = self.names.setdefault(key, {})
            known = by_id.get(entity_id)
            if curated:  # a curated alias keeps its spelling (capitals matter in notes)
                best = priority if known is None else min(priority, known.priority)
                by_id[entity_id] = Entry(entity_id, kind, best, variant, True)
            elif known is None or priority < known.priority:
                by_id[entity_id] = Entry(
                    entity_id, kind, priority, variant, known is not None and known.curated
                )

    def add_forms(self, forms: Sequence[tuple[str, str]], priority: int) -> None:
        """Index drug names under the keys (of all their variants) that name no drug yet.

        Args:
            forms: (name, DrugBank id) pairs, e.g. names less their hydrate words.
            priority: their priority (weaker than every source already indexed).
        """
        taken = {
            key
            for key, by_id in self.names.items()
            if any(e.kind == "drug" for e in by_id.values())
        }
        for name, drug_id in forms:
            for variant in name_variants(name.strip()):
                key = normalize(variant)
                if not key or key in taken:
                    continue
                drug_id = sys.intern(drug_id)
                by_id = self.names.setdefault(key, {})
                known = by_id.get(drug_id)
                if known is None or priority < known.priority:
                    by_id[drug_id] = Entry(drug_id, "drug", priority, variant)

    def add_aliases(self) -> None:
        """Bind :data:`CURATED_ALIASES` to the ids their target names link to."""
        for alias, kind, target in CURATED_ALIASES:
            entries = [e for e in self.names.get(normalize(target), {}).values() if e.kind == kind]
            if entries:
                best = min(entries, key=lambda e: (e.priority, _id_rank(e.id), e.id))
                self.add(alias, best.id, kind, 1, curated=True)

    def freeze(self) -> NameIndex:
        """Sort every key's entries and build the fuzzy key lists and token postings."""
        support = Counter(entity_id for by_id in self.names.values() for entity_id in by_id)
        preferred = {i: set(normalize(name).split()) for i, name in self.index.preferred.items()}
        exact: dict[str, tuple[Entry, ...]] = {}
        for key, by_id in self.names.items():
            words = set(key.split())

            def rank(e: Entry, words: set[str] = words) -> tuple[int, bool, bool, int, int, str]:
                return (
                    e.priority,
                    bool(_LOSSY.search(e.name)),  # "(-)-Albuterol" after "Albuterol"
                    not words & preferred.get(e.id, set()),  # "cold": Common Cold, not COLD
                    _id_rank(e.id),
                    -support[e.id],
                    e.id,
                )

            exact[key] = tuple(sorted(by_id.values(), key=rank))
        self.index.exact = exact
        for kind in KINDS:
            keys = sorted(
                (k for k, entries in exact.items() if any(e.kind == kind for e in entries)),
                key=lambda k: (len(k), k),
            )
            postings: dict[str, array[int]] = {}
            for position, key in enumerate(keys):
                for token in set(key.split()):
                    postings.setdefault(token, array("i")).append(position)
            self.index.fuzzy[kind] = keys
            self.index.postings[kind] = postings
        return self.index


def _corpus(settings: Settings) -> list[Path]:
    """The BC5CDR PubTator files of the bundle (optional; empty when absent)."""
    folder = settings.data_dir / bundle.BC5CDR_DIR
    return sorted(folder.glob("*.PubTator.txt")) if folder.is_dir() else []


def _inputs(settings: Settings) -> list[Path]:
    required = [settings.data_file(relative) for relative in bundle.LINKING_FILES]
    return required + _corpus(settings)


def _iter_pubtator(path: Path) -> Iterator[tuple[str, list[tuple[int, int]]]]:
    """PubTator documents as (title + " " + abstract, sorted annotated spans)."""
    parts: list[str] = []
    marks: list[tuple[int, int]] = []
    with open_text(path) as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if not line:
                if parts:
                    yield " ".join(parts), sorted(marks)
                parts, marks = [], []
            elif line[:20].count("|") >= 2 and ("|t|" in line[:20] or "|a|" in line[:20]):
                parts.append(line.split("|", 2)[2])
            else:
                cols = line.split("\t")
                if len(cols) >= 6 and cols[1].isdigit() and cols[2].isdigit():
                    marks.append((int(cols[1]), int(cols[2])))
    if parts:
        yield " ".join(parts), sorted(marks)


def common_words(words: set[str], corpus: Sequence[Path]) -> frozenset[str]:
    """The ``words`` that an annotated corpus mostly uses outside entity mentions.

    Args:
        words: normalised one-word names to test.
        corpus: PubTator files whose chemical and disease mentions are annotated.

    Returns:
        The words seen at least :data:`COMMON_MIN_COUNT` times, less than
        :data:`COMMON_MAX_RATIO` of them overlapping an annotated mention.

    Example:
        >>> common_words({"brain"}, [])
        frozenset()
    """
    seen: Counter[str] = Counter()
    marked: Counter[str] = Counter()
    for path in corpus:
        for text, marks in _iter_pubtator(path):
            starts = [start for start, _ in marks]
            for token, start, end in spans(text):
                if token not in words:
                    continue
                seen[token] += 1
                at = bisect.bisect_left(starts, end) - 1
                if at >= 0 and marks[at][1] > start:
                    marked[token] += 1
    return frozenset(
        w for w, n in seen.items() if n >= COMMON_MIN_COUNT and marked[w] < COMMON_MAX_RATIO * n
    )


def input_stamp(settings: Settings) -> dict[str, list[int]]:
    """(size, mtime_ns) of each input file, plus the index version and settings.

    Raises:
        DataMissingError: an input file of the bundle is missing.
    """
    stamp: dict[str, list[int]] = {}
    for path in _inputs(settings):
        info = path.stat()
        stamp[str(path.resolve())] = [info.st_size, info.st_mtime_ns]
    stamp["version"] = [INDEX_VERSION, _config_crc()]
    return stamp


def _config_crc() -> int:
    """A checksum of the settings that shape the index (a change rebuilds it)."""
    config = (
        CURATED_ALIASES,
        COMMON_MIN_COUNT,
        COMMON_MAX_RATIO,
        _DISEASE_TREES,
        sorted(HYDRATE_WORDS),
    )
    return zlib.crc32(repr(config).encode())


def build_name_index(settings: Settings) -> NameIndex:
    """Read the name tables of the bundle into a :class:`NameIndex`.

    Raises:
        DataMissingError: an input file of the bundle is missing.
    """
    data = settings.data_file
    builder = _Builder(input_stamp(settings))
    index = builder.index
    drug_keys: set[str] = set()
    hydrate_free: list[tuple[str, str]] = []
    for record in iter_drugbank_vocabulary(data(bundle.DRUGBANK_VOCABULARY)):
        builder.add(record.name, record.drugbank_id, "drug", 0)
        for synonym in record.synonyms:
            builder.add(synonym, record.drugbank_id, "drug", 1)
        for name in (record.name, *record.synonyms):
            if bare := without_hydrate(name):
                hydrate_free.append((bare, record.drugbank_id))
        drug_keys.update(normalize(n) for n in (record.name, *record.synonyms))
        for code in (record.cas, record.unii):
            if code:
                index.codes[code.upper()] = record.drugbank_id
    trees = read_mesh_tree_numbers(data(bundle.MESH_TREE_NUMBERS))
    mesh_names: dict[str, str] = {}
    for mesh_id, name in iter_mesh_terms(data(bundle.MESH_TERMS)):
        mesh_names[f"MESH:{mesh_id}"] = name
        numbers = trees.get(mesh_id, [])
        if any(n.startswith(_DISEASE_TREES) for n in numbers):
            builder.add(name, f"MESH:{mesh_id}", "disease", 0)
        elif (
            any(n.startswith(_SUBSTANCE_TREES) for n in numbers)
            and normalize(name) not in drug_keys
        ):
            builder.add(name, f"MESH:{mesh_id}", "substance", 0)
    for name, mesh_id in iter_disease_names(data(bundle.DISEASE_NAME_TO_MESH)):
        mesh_id = mesh_id.strip()
        if _MESH_ID.match(mesh_id):  # some rows carry OMIM numbers, not MeSH ids
            builder.add(name, f"MESH:{mesh_id}", "disease", 1 if mesh_id[0] == "D" else 2)
    for node, name, node_kind in iter_hetionet_nodes(data(bundle.HETIONET_NODES)):
        local = node.partition("::")[2]
        if node_kind == "Disease" and local.startswith("DOID:"):
            builder.add(name, local, "disease", 0)
        elif node_kind == "Symptom" and _MESH_ID.match(local):
            builder.add(name, f"MESH:{local}", "disease", 1)
        elif node_kind == "Compound" and local.startswith("DB"):
            builder.add(name, local, "drug", 2)
    builder.add_forms(hydrate_free, 3)
    builder.add_aliases()
    one_word = {
        key
        for key, by_id in builder.names.items()
        if " " not in key and any(e.kind != "substance" for e in by_id.values())
    }
    index.common_words = common_words(one_word, _corpus(settings))
    for mesh_id, name in mesh_names.items():  # labels of MeSH ids outside the indexed trees
        index.preferred.setdefault(mesh_id, name)
    index.xrefs = list(iter_doid_mesh_xrefs(data(bundle.DOID_MESH_XREFS)))
    for code, short, long in iter_icd9_titles(data(bundle.ICD9_DIAGNOSES)):
        index.icd9[code.replace(".", "").upper()] = (short, long)
    return builder.freeze()


def index_path(settings: Settings) -> Path:
    """Where the cached index of ``settings`` lives."""
    return settings.cache_dir / INDEX_FILE


def _read_stamp(path: Path) -> dict[str, list[int]] | None:
    """The stamp at the head of a cache file (the index follows it), or None."""
    try:
        with path.open("rb") as handle:
            stamp = pickle.load(handle)  # our own cache file under KEDREC_HOME
    except Exception:  # a missing, truncated or foreign cache file is simply rebuilt
        return None
    return stamp if isinstance(stamp, dict) else None


def _read_index(path: Path, stamp: dict[str, list[int]]) -> NameIndex | None:
    try:
        with path.open("rb") as handle:
            if pickle.load(handle) != stamp:
                return None
            index = pickle.load(handle)
    except Exception:  # a truncated or foreign cache file is simply rebuilt
        log.warning("linker index cache at %s is unreadable; rebuilding", path)
        return None
    return index if isinstance(index, NameIndex) and index.stamp == stamp else None


def _write_index(path: Path, index: NameIndex) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with scratch.open("wb") as handle:
        pickle.dump(index.stamp, handle, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(index, handle, protocol=pickle.HIGHEST_PROTOCOL)
    scratch.replace(path)


def ensure_index(settings: Settings, force: bool = False) -> Path:
    """Build the cached index unless it is current (then only its stamp is read).

    Args:
        settings: where the bundle is and where the cache goes.
        force: rebuild even when the cache is current.

    Returns:
        The path of the cache file.

    Raises:
        DataMissingError: an input file of the bundle is missing.
    """
    path = index_path(settings)
    if force or _read_stamp(path) != input_stamp(settings):
        _write_index(path, build_name_index(settings))
    return path


def load_or_build(settings: Settings, force: bool = False) -> tuple[NameIndex, Path]:
    """The cached index when its stamp matches the inputs, else a fresh build (then cached).

    Args:
        settings: where the bundle is and where the cache goes.
        force: rebuild even when the cache is current.

    Returns:
        The index and the path of its cache file.

    Raises:
        DataMissingError: an input file of the bundle is missing.
    """
    path = index_path(settings)
    stamp = input_stamp(settings)
    cached = None if force or not path.is_file() else _read_index(path, stamp)
    if cached is not None:
        return cached, path
    index = build_name_index(settings)
    _write_index(path, index)
    return index, path
