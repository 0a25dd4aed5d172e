"""Drug classes for the ranker: pharmacologic classes and ATC codes from the bundle's safety/.

Two optional tables (``KEDREC_DATA_DIR/safety/``), read once per process:

* ``drugcentral2016_pharmacologic_classes.tsv``: FDA established pharmacologic class (EPC)
  and mechanism of action (MoA) of each DrugBank drug (the broad MeSH / ChEBI roles are
  not classes here: "Anti-Bacterial Agents" groups too much to tell drugs apart); the
  names of the FDA classes and of the MeSH pharmacological actions are kept per drug
  (:attr:`DrugTables.class_names`: what the drug is for, in words);
* ``atc_drugbank42.tsv``: WHO ATC codes, kept at level 4 (chemical subgroup, ``B01AE``).

A bundle without them (a user's own) gives empty tables: every class feature is then 0,
never an error.

Example:
    >>> tables = DrugTables.from_settings()  # doctest: +SKIP
    >>> sorted(tables.classes_of("DB00001"))[:2]  # doctest: +SKIP
    ['ATC:B01AE', 'EPC:N0000175518']
"""

from __future__ import annotations

import csv
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import DataMissingError

log = logging.getLogger(__name__)

PHARMACOLOGIC_CLASSES = "safety/drugcentral2016_pharmacologic_classes.tsv"
ATC_CODES = "safety/atc_drugbank42.tsv"
CLASS_TYPES = ("EPC", "MoA")
"""DrugCentral class types kept (FDA established pharmacologic class, mechanism of action)."""
NAMED_TYPES = (("FDA", "EPC"), ("FDA", "MoA"), ("MeSH", "PA"))
"""DrugCentral (source, type) pairs whose names :attr:`DrugTables.class_names` keeps: the FDA
classes and the MeSH pharmacological actions ("Anticonvulsants", "Hypoglycemic Agents")."""
ATC_LEVEL4 = 5
"""Characters of an ATC code at level 4 (chemical subgroup): ``B01AE`` of ``B01AE02``."""
MAX_CLASS_SIZE = 60
"""Classes with more drugs than this are too broad to say anything and are ignored."""


@dataclass(frozen=True)
class DrugTables:
    """Each drug's classes (``EPC:…``, ``MoA:…``, ``ATC:B01AE``) and each class's drugs."""

    classes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    established: frozenset[str] = frozenset()
    """Drugs with an FDA established pharmacologic class (EPC), however broad: a marker of
    an approved drug in established use (not a ranker feature)."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Class id (``EPC:N0000175596``) -> its name ("Peroxisome Proliferator Receptor alpha
    Agonist"); ATC codes have none in the bundle."""
    every: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Each drug's classes, the broad ones included (what :meth:`pharmacology` names)."""
    class_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each drug's class names, broad ones included (:data:`NAMED_TYPES`), sorted."""

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str]],
        names: Mapping[str, str] | None = None,
        class_names: Mapping[str, Iterable[str]] | None = None,
    ) -> DrugTables:
        """Build from (DrugBank id, class) pairs; classes over :data:`MAX_CLASS_SIZE` dropped.

        Args:
            rows: (DrugBank id, class id) pairs.
            names: class id -> name (for :meth:`pharmacology`).
            class_names: DrugBank id -> the names of its classes (:attr:`class_names`).
        """
        members: dict[str, set[str]] = {}
        every: dict[str, set[str]] = {}
        for drug, klass in rows:
            members.setdefault(klass, set()).add(drug)
            every.setdefault(drug, set()).add(klass)
        established = frozenset(d for d, c in every.items() if any(k.startswith("EPC:") for k in c))
        kept = {k: frozenset(v) for k, v in members.items() if len(v) <= MAX_CLASS_SIZE}
        classes: dict[str, set[str]] = {}
        for klass, drugs in kept.items():
            for drug in drugs:
                classes.setdefault(drug, set()).add(klass)
        return cls(
            classes={d: frozenset(c) for d, c in classes.items()},
            members=kept,
            established=established,
            names=dict(names or {}),
            every={d: frozenset(c) for d, c in every.items()},
            class_names={d: tuple(sorted(set(n))) for d, n in (class_names or {}).items()},
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DrugTables:
        """The bundle's tables, read once per data folder; empty where a file is missing."""
        settings = settings or get_settings()
        with _LOCK:
            if settings.data_dir not in _CACHE:
                rows, names, class_names = _rows(settings)
                _CACHE[settings.data_dir] = cls.from_rows(rows, names, class_names)
            return _CACHE[settings.data_dir]

    def classes_of(self, drug_id: str) -> frozenset[str]:
        """The drug's classes (empty when it has none or the tables are missing)."""
        return self.classes.get(drug_id, frozenset())

    def therapeutic_groups(self, drug_id: str) -> frozenset[str]:
        """The drug's ATC level-2 groups (``J01`` antibacterials for systemic use)."""
        return frozenset(c[4:7] for c in self.classes_of(drug_id) if c.startswith("ATC:"))

    def pharmacology(self, drug_id: str) -> dict[str, list[str]]:
        """The drug's named classes by kind: ``EPC``, ``MoA`` (names) and ``ATC`` (codes).

        Broad classes are included: "Anti-coagulant" says what warfarin is, though it groups
        too many drugs to be a ranker feature.
        """
        found: dict[str, list[str]] = {}
        for klass in sorted(self.every.get(drug_id, ())):
            kind, _, code = klass.partition(":")
            name = code if kind == "ATC" else self.names.get(klass)
            if name:
                found.setdefault(kind, []).append(name)
        return found

    def classmates(self, drug_id: str) -> frozenset[str]:
        """The other drugs sharing at least one class with ``drug_id``."""
        mates: set[str] = set()
        for klass in self.classes_of(drug_id):
            mates |= self.members[klass]
        mates.discard(drug_id)
        return frozenset(mates)


_CACHE: dict[Path, DrugTables] = {}
_LOCK = threading.Lock()


def _optional(settings: Settings, relative: str) -> Path | None:
    try:
        return settings.data_file(relative)
    except DataMissingError as exc:
        log.warning("drug classes unavailable for the ranker (feature set to 0): %s", exc)
        return None


def _rows(
    settings: Settings,
) -> tuple[list[tuple[str, str]], dict[str, str], dict[str, set[str]]]:
    """Whichever of the two tables exist, read.

    Returns:
        (DrugBank id, class) pairs; each class's name; each drug's class names
        (:data:`NAMED_TYPES`).
    """
    rows: list[tuple[str, str]] = []
    names: dict[str, str] = {}
    named: dict[str, set[str]] = {}
    path = _optional(settings, PHARMACOLOGIC_CLASSES)
    if path is not None:
        with open_text(path) as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                kind = row.get("class_type") or ""
                name = (row.get("class_name") or "").strip()
                drug = row.get("drugbank_id") or ""
                if (row.get("class_source"), kind) in NAMED_TYPES and name and drug:
                    named.setdefault(drug, set()).add(name)
                if row.get("class_source") == "FDA" and kind in CLASS_TYPES and row.get("class_id"):
                    klass = f"{kind}:{row['class_id']}"
                    rows.append((row.get("drugbank_id") or "", klass))
                    names[klass] = (row.get("class_name") or "").strip()
    path = _optional(settings, ATC_CODES)
    if path is not None:
        with open_text(path) as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                code = (row.get("atc_code") or "").strip()
                if len(code) >= ATC_LEVEL4:
                    rows.append((row.get("drugbank_id") or "", f"ATC:{code[:ATC_LEVEL4]}"))
    return [(drug, klass) for drug, klass in rows if drug.startswith("DB")], names, named
