"""How severe a drug-drug interaction is: major, moderate, minor or unknown.

The mapping, most specific first:

1. **DDInter's level for the pair** (``safety/ddinter_severity.tsv.gz``): the most severe
   of Major > Moderate > Minor over DDInter's records of the two drugs.
2. **The interaction type's prior** (``safety/ddi_type_severity_from_ddinter.tsv``), for a
   pair DDInter does not grade: DrugBank's typed interaction (one of 86 sentence templates,
   e.g. "may increase the anticoagulant activities of") gets ``major`` when at least
   :data:`MAJOR_SHARE` of the DDInter-graded pairs of that type are Major, else the type's
   majority level. A weak prior, said so in the warning.
3. Otherwise ``unknown``. DDInter covers only some ATC groups (no C, G, J, M, N or S
   pairs): an unknown severity is not a safe one.

Example:
    >>> table = SeverityTable({frozenset({"DB00682", "DB00945"}): "major"}, {})
    >>> table.pair_level("DB00945", "DB00682")
    'major'
"""

from __future__ import annotations

import csv
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data import bundle
from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import DataMissingError
from kedrec_agent.kg.models import Interaction

log = logging.getLogger(__name__)

Level = Literal["major", "moderate", "minor", "unknown"]
Source = Literal["DDInter", "interaction type", "none"]

RANK: dict[Level, int] = {"major": 3, "moderate": 2, "minor": 1, "unknown": 0}
"""Order of the levels (higher is more severe)."""

MAJOR_SHARE = 0.4
"""An interaction type is treated as major when at least this share of its graded pairs
are (serotonergic 91%, hypertensive 66%, QTc-prolonging 49%, anticoagulant 47% are)."""

_TYPE_RELATION = "DRUGBANK::ddi-type-"


def _level(text: str) -> Level:
    value = text.strip().lower()
    return value if value in ("major", "moderate", "minor") else "unknown"  # type: ignore[return-value]


@dataclass(frozen=True)
class Severity:
    """The severity of one interacting pair, and where it comes from."""

    level: Level
    source: Source


@dataclass(frozen=True)
class SeverityTable:
    """DDInter levels by unordered DrugBank pair, and the prior level of each DDI type."""

    pairs: Mapping[frozenset[str], Level]
    types: Mapping[str, Level]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> SeverityTable:
        """The bundle's tables (read once per process); empty when the bundle has none."""
        settings = settings or get_settings()
        with _LOCK:
            if settings not in _CACHE:
                _CACHE[settings] = cls._read(settings)
            return _CACHE[settings]

    @classmethod
    def _read(cls, settings: Settings) -> SeverityTable:
        try:
            pairs_path = settings.data_file(bundle.DDI_SEVERITY)
            types_path = settings.data_file(bundle.DDI_TYPE_SEVERITY)
        except DataMissingError as exc:
            log.warning("interaction severities unavailable: %s", exc)
            return cls({}, {})
        with open_text(pairs_path) as handle:
            pairs = {
                frozenset((row["drugbank_id_1"], row["drugbank_id_2"])): _level(row["level"])
                for row in csv.DictReader(handle, delimiter="\t")
            }
        with open_text(types_path) as handle:
            types = {
                row["type"]: _type_level(row) for row in csv.DictReader(handle, delimiter="\t")
            }
        return cls(pairs, types)

    def pair_level(self, drug_a: str, drug_b: str) -> Level:
        """DDInter's level for two DrugBank ids (``unknown`` when it has none)."""
        return self.pairs.get(frozenset((drug_a, drug_b)), "unknown")

    def of(self, interactions: Iterable[Interaction]) -> Severity:
        """The severity of one pair from its interaction rows (all between the same two drugs)."""
        rows = list(interactions)
        if not rows:
            return Severity("unknown", "none")
        level = self.pair_level(rows[0].drug_a.local_id, rows[0].drug_b.local_id)
        if level != "unknown":
            return Severity(level, "DDInter")
        priors: list[Level] = [
            self.types.get(row.relation.removeprefix(_TYPE_RELATION).split("::")[0], "unknown")
            for row in rows
            if row.relation.startswith(_TYPE_RELATION)
        ]
        best: Level = max(priors, key=RANK.__getitem__, default="unknown")
        return Severity(best, "interaction type" if best != "unknown" else "none")


def worst_with(
    drugs: Iterable[str],
    medications: Iterable[str],
    interactions: Iterable[Interaction],
    table: SeverityTable,
) -> dict[str, Level]:
    """Each drug's most severe interaction with a current medication (drugs with none left out).

    Args:
        drugs: DrugBank ids (candidates).
        medications: DrugBank ids the patient takes.
        interactions: known interactions (any pairs; others are ignored).
        table: the severities.
    """
    wanted, taken = set(drugs), set(medications)
    rows: dict[tuple[str, str], list[Interaction]] = {}
    for inter in interactions:
        a, b = inter.drug_a.local_id, inter.drug_b.local_id
        for drug, other in ((a, b), (b, a)):
            if drug in wanted and other in taken and drug != other:
                rows.setdefault((drug, other), []).append(inter)
    worst: dict[str, Level] = {}
    for (drug, _), pair_rows in rows.items():
        level = table.of(pair_rows).level
        if RANK[level] >= RANK[worst.get(drug, "unknown")]:
            worst[drug] = level
    return worst


def _type_level(row: Mapping[str, str]) -> Level:
    try:
        if float(row.get("share_major") or 0.0) >= MAJOR_SHARE:
            return "major"
    except ValueError:
        pass
    return _level(row.get("majority_level") or "")


_LOCK = threading.Lock()
_CACHE: dict[Settings, SeverityTable] = {}
