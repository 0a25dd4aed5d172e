"""The input files a task list is built from: disease lists, PharmacotherapyDB, DrugMechDB.

Readers of the bundle's formats (any file in the same format works: a held-out split, a
user's own list), each naming the file and line of a malformed input. Used by
:func:`training.tasks.build.build_tasks` and by the evaluation harness's baselines.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.linking import DiseaseConcept, Linker

log = logging.getLogger(__name__)

DRUG_ID = re.compile(r"^DB\d{5}$")
"""A DrugBank drug id (salts, ``DBSALT…``, are not drugs of the KG or the linker)."""
# Any id the KG accepts (DRKG also has odd MeSH keys such as MESH:C or MESH:191900).
DISEASE_ID = re.compile(r"^(MESH|DOID):[A-Za-z0-9_.-]+$")
"""A disease id: ``MESH:…`` or ``DOID:…``."""
_CATEGORIES = ("DM", "SYM", "NOT")


@dataclass(frozen=True)
class Rationale:
    """One DrugMechDB path: the drug, the disease, its sentence and its steps."""

    drug: str
    disease: str
    text: str | None
    mechanism: tuple[str, ...]
    disease_name: str = ""


@dataclass(frozen=True)
class Indication:
    """One PharmacotherapyDB row: ``DM``, ``SYM`` or ``NOT``."""

    drug: str
    disease: str
    category: str
    disease_name: str


def disease_concept(linker: Linker, disease_id: str) -> DiseaseConcept:
    """The concept of a disease id, also for DRKG's odd MeSH keys (``MESH:C``, ``MESH:191900``).

    Raises:
        InvalidInputError: ``disease_id`` is not a disease id the linker or the KG knows.
    """
    try:
        return linker.disease(disease_id)
    except InvalidInputError:
        if DISEASE_ID.match(disease_id):
            return linker.equivalences.concept(disease_id)
        raise


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without the newline) of a text file (gzip read transparently).

    Raises:
        DataMissingError: the file does not exist.
    """
    if not path.is_file():
        raise DataMissingError(f"File not found: {path}")
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip("\r\n")


def read_diseases(path: Path, linker: Linker) -> list[DiseaseConcept]:
    """The diseases of a list file (one DOID/MeSH id a line; ``#`` comments), deduplicated.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a line is not a disease id (file and line named).
    """
    seen: dict[str, DiseaseConcept] = {}
    for number, line in numbered_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            concept = disease_concept(linker, text)
        except InvalidInputError:
            raise InvalidInputError(
                f"{path}, line {number}: not a disease id (MESH:… or DOID:…): {text[:80]!r}"
            ) from None
        seen.setdefault(concept.canonical, concept)
    return list(seen.values())


def read_indications(path: Path) -> list[Indication]:
    """PharmacotherapyDB rows (TSV with ``doid_id``, ``drugbank_id``, ``category`` columns).

    The disease is ``doid_id`` (any DOID/MeSH id; ``disease_key`` when ``doid_id`` is
    absent from the header).

    Rows whose drug is not a ``DB#####`` id (DrugBank salts ``DBSALT…``) are skipped and
    counted in the log: neither the KG nor the linker knows them.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a missing column, a short row, an empty drug or malformed disease
            id, or an unknown category (file and line named).
    """
    rows: list[Indication] = []
    lines = numbered_lines(path)
    header_line = next(lines, None)
    if header_line is None:
        raise InvalidInputError(f"{path}: empty file (expected a TSV header)")
    header = header_line[1].split("\t")
    disease_col = "doid_id" if "doid_id" in header else "disease_key"
    missing = [c for c in (disease_col, "drugbank_id", "category") if c not in header]
    if missing:
        raise InvalidInputError(f"{path}, line 1: missing column(s) {', '.join(missing)}")
    where = {name: header.index(name) for name in (disease_col, "drugbank_id", "category")}
    name_col = header.index("disease") if "disease" in header else None
    skipped = 0
    for number, line in lines:
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < len(header):
            raise InvalidInputError(
                f"{path}, line {number}: expected {len(header)} tab-separated fields, "
                f"got {len(cols)}: {line[:120]!r}"
            )
        drug, disease = cols[where["drugbank_id"]].strip(), cols[where[disease_col]].strip()
        category = cols[where["category"]].strip()
        if not DISEASE_ID.match(disease):
            raise InvalidInputError(f"{path}, line {number}: not a disease id: {disease[:40]!r}")
        if category not in _CATEGORIES:
            raise InvalidInputError(
                f"{path}, line {number}: category must be DM, SYM or NOT, got {category[:20]!r}"
            )
        if not DRUG_ID.match(drug):
            if not drug:
                raise InvalidInputError(f"{path}, line {number}: empty drugbank_id")
            skipped += 1  # a salt (DBSALT…) or mangled id: no KG drug, no name
            continue
        name = cols[name_col].strip() if name_col is not None else ""
        rows.append(Indication(drug, disease, category, name))
    if skipped:
        log.info("skipped %d indication(s) whose drug is not a DrugBank drug id", skipped)
    return rows


def _step(link: object, names: dict[str, str]) -> str:
    if not isinstance(link, dict):
        raise TypeError("a link is not an object")
    source, key, target = (str(link[k]) for k in ("source", "key", "target"))
    return f"{names.get(source, source)} {key} {names.get(target, target)}"


def read_rationales(path: Path) -> list[Rationale]:
    """DrugMechDB paths, one JSON object a line.

    Fields read: ``drugbank_id``, ``disease_mesh`` (else ``disease_key``),
    ``rationale_text``, ``nodes`` (``id``, ``name``) and ``links`` (``source``, ``key``,
    ``target``). Paths whose drug is not a ``DB#####`` id (``DBSALT…``) are skipped and
    counted in the log.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a line is not such a JSON object (file and line named).
    """
    rows: list[Rationale] = []
    skipped = 0
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            drug = str(record["drugbank_id"])
            mesh = record.get("disease_mesh")
            disease = f"MESH:{mesh}" if mesh else str(record["disease_key"])
            if not DISEASE_ID.match(disease):
                raise ValueError(f"not a disease id: {disease[:40]!r}")
            if not DRUG_ID.match(drug):
                skipped += 1  # a salt (DBSALT…) or mangled id: no KG drug, no name
                continue
            names = {str(n["id"]): str(n.get("name") or n["id"]) for n in record.get("nodes", [])}
            steps = tuple(_step(link, names) for link in record.get("links", []))
            text = record.get("rationale_text")
            name = str(record.get("disease") or "")
            rows.append(Rationale(drug, disease, str(text) if text else None, steps, name))
        except (ValueError, TypeError, KeyError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InvalidInputError(
                f"{path}, line {number}: not a DrugMechDB path ({detail[:120]})"
            ) from None
    if skipped:
        log.info("skipped %d DrugMechDB path(s) whose drug is not a DrugBank drug id", skipped)
    return rows
