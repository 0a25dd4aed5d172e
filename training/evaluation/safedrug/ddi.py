"""An ATC-3 drug-drug interaction relation of our own, for the protocol's DDI rate.

The published SafeDrug line uses TWOSIDES-based ATC-3 pairs (not in the bundle). Here two
ATC-3 classes interact when any drug of one interacts with any drug of the other, drugs
being placed in classes by ``safety/atc_drugbank42.tsv`` (a drug with several ATC codes
is in several classes). Three levels, from broad to strict:

* ``any``: every DrugBank pair of the bundle's ogbl-ddi files (``kg/drkg_ddi.tsv.gz`` and
  ``kg/drkg_ddi_extra.tsv.gz``, DRKG's ``DRUGBANK::ddi-interactor-in`` relation) and of
  DDInter (``safety/ddinter_severity.tsv.gz``) at any severity;
* ``moderate``: DDInter pairs graded Moderate or Major;
* ``major``: DDInter pairs graded Major (the default of the evaluation).

With ``any`` nearly every pair of classes interacts (the rate says little), so the
protocol reports ``major`` by default. DDInter's gap applies: pairs whose two drugs sit
only in ATC groups C, G, J, M, N or S have no severity, so the graded levels undercount.

Example:
    >>> ddi = ClassDDI.from_pairs([("B01A", "M01A")])
    >>> ddi.interacts("M01A", "B01A"), ddi.interacts("B01A", "C07A")
    (True, False)
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from kedrec_agent.config import Settings
from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import InvalidInputError

DDILevel = Literal["any", "moderate", "major"]
"""How severe a drug-level interaction must be to make two classes interact."""

DDI_LEVELS: tuple[DDILevel, ...] = get_args(DDILevel)
DEFAULT_LEVEL: DDILevel = "major"

ATC_TABLE = "safety/atc_drugbank42.tsv"
DDINTER = "safety/ddinter_severity.tsv.gz"
OGB_DDI = ("kg/drkg_ddi.tsv.gz", "kg/drkg_ddi_extra.tsv.gz")

_LEVELS_OF: dict[DDILevel, frozenset[str]] = {
    "any": frozenset({"Major", "Moderate", "Minor", "Unknown", ""}),
    "moderate": frozenset({"Major", "Moderate"}),
    "major": frozenset({"Major"}),
}


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class ClassDDI:
    """Interacting ATC-3 class pairs (unordered; a class never interacts with itself).

    Attributes:
        pairs: the interacting pairs, each as ``(smaller, larger)``.
        level: the severity level it was built at (``"custom"`` for hand-made ones).
        drug_pairs: drug-level pairs read (both drugs with an ATC code).
    """

    pairs: frozenset[tuple[str, str]]
    level: str = "custom"
    drug_pairs: int = 0

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], level: str = "custom") -> ClassDDI:
        """A relation from explicit class pairs (self-pairs ignored)."""
        kept = frozenset(_pair(a, b) for a, b in pairs if a != b)
        return cls(kept, level, 0)

    @classmethod
    def from_drug_pairs(
        cls,
        drug_pairs: Iterable[tuple[str, str]],
        drug_classes: Mapping[str, frozenset[str]],
        level: str = "custom",
    ) -> ClassDDI:
        """Aggregate drug pairs to classes: any drug pair across two classes links them."""
        found: set[tuple[str, str]] = set()
        seen: set[tuple[str, str]] = set()
        for a, b in drug_pairs:
            if a == b or a not in drug_classes or b not in drug_classes:
                continue
            key = _pair(a, b)
            if key in seen:
                continue
            seen.add(key)
            found.update(_pair(x, y) for x in drug_classes[a] for y in drug_classes[b] if x != y)
        return cls(frozenset(found), level, len(seen))

    def interacts(self, a: str, b: str) -> bool:
        """Whether two ATC-3 classes interact (symmetric; ``False`` for ``a == b``)."""
        return a != b and _pair(a, b) in self.pairs

    def adjacency(self, classes: Iterable[str]) -> list[list[float]]:
        """The 0/1 interaction matrix over ``classes`` (in that order)."""
        order = list(classes)
        return [[float(self.interacts(a, b)) for b in order] for a in order]

    def summary(self, classes: Iterable[str] = ()) -> dict[str, float | str]:
        """Level, pairs in all and, over ``classes``, the share of pairs that interact."""
        order = sorted(set(classes))
        possible = len(order) * (len(order) - 1) // 2
        within = sum(self.interacts(a, b) for i, a in enumerate(order) for b in order[i + 1 :])
        return {
            "level": self.level,
            "class_pairs": float(len(self.pairs)),
            "drug_pairs": float(self.drug_pairs),
            "cohort_classes": float(len(order)),
            "cohort_pair_density": within / possible if possible else 0.0,
        }


def drug_classes(path: Path | None = None) -> dict[str, frozenset[str]]:
    """DrugBank id -> its ATC-3 classes (first four characters of each ATC code).

    Args:
        path: a TSV with ``drugbank_id`` and ``atc_code`` columns (default: the bundle's
            ``safety/atc_drugbank42.tsv``).
    """
    path = path or Settings.from_env().data_dir / ATC_TABLE
    found: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            drug, code = (row.get("drugbank_id") or "").strip(), (row.get("atc_code") or "")
            if drug and len(code.strip()) >= 4:
                found[drug].add(code.strip()[:4])
    return {drug: frozenset(classes) for drug, classes in found.items()}


def _ddinter_pairs(path: Path, levels: frozenset[str]) -> Iterator[tuple[str, str]]:
    with open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        for row in reader:
            if (row.get("level") or "").strip() in levels:
                yield row["drugbank_id_1"], row["drugbank_id_2"]


def _ogb_pairs(path: Path) -> Iterator[tuple[str, str]]:
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise InvalidInputError(f"{path}, line {number}: expected a head-relation-tail.")
            head, relation, tail = parts
            if "ddi" in relation.lower() and head.startswith("Compound::"):
                yield head[10:], tail.removeprefix("Compound::")


def load_class_ddi(level: DDILevel = DEFAULT_LEVEL, data_dir: Path | None = None) -> ClassDDI:
    """The bundle's ATC-3 DDI relation at a severity level.

    Args:
        level: ``any``, ``moderate`` (Moderate or Major) or ``major``.
        data_dir: the data bundle (default: ``KEDREC_DATA_DIR``).

    Raises:
        InvalidInputError: an unknown level.
    """
    if level not in DDI_LEVELS:
        raise InvalidInputError(f"DDI level {level!r}: choose one of {', '.join(DDI_LEVELS)}.")
    root = data_dir or Settings.from_env().data_dir
    classes = drug_classes(root / ATC_TABLE)

    def pairs() -> Iterator[tuple[str, str]]:
        yield from _ddinter_pairs(root / DDINTER, _LEVELS_OF[level])
        if level == "any":
            for name in OGB_DDI:
                yield from _ogb_pairs(root / name)

    return ClassDDI.from_drug_pairs(pairs(), classes, level)
