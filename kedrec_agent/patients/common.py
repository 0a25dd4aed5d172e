"""Helpers shared by the record readers: CSV tables (plain or gzipped), SNOMED tags, ages.

Example:
    >>> split_semantic_tag("Essential hypertension (disorder)")
    ('Essential hypertension', 'disorder')
    >>> age_between(date(1950, 6, 2), date(2020, 6, 1))
    69
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.patients.model import PatientInput, validation_message

# SNOMED CT semantic tags that end a fully specified name, e.g. "Asthma (disorder)".
SEMANTIC_TAGS = frozenset(
    {
        "administrative concept",
        "assessment scale",
        "attribute",
        "body structure",
        "cell",
        "cell structure",
        "clinical drug",
        "disorder",
        "environment",
        "ethnic group",
        "event",
        "finding",
        "geographic location",
        "life style",
        "medicinal product",
        "medicinal product form",
        "morphologic abnormality",
        "observable entity",
        "occupation",
        "organism",
        "person",
        "physical force",
        "physical object",
        "procedure",
        "product",
        "qualifier value",
        "racial group",
        "record artifact",
        "regime/therapy",
        "religion/philosophy",
        "situation",
        "social concept",
        "specimen",
        "substance",
    }
)
_TAG = re.compile(r"^(.*\S)\s*\(([^()]+)\)\s*$", re.DOTALL)


def split_semantic_tag(description: str) -> tuple[str, str | None]:
    """Split a SNOMED CT semantic tag off a description.

    Args:
        description: a display such as ``"Viral sinusitis (disorder)"``.

    Returns:
        The description without its tag and the tag (lower case), or the stripped
        description and ``None`` when it does not end with a known tag.
    """
    text = description.strip()
    match = _TAG.match(text)
    if match and match.group(2).strip().lower() in SEMANTIC_TAGS:
        return match.group(1), match.group(2).strip().lower()
    return text, None


def age_between(born: date, on: date) -> int:
    """Whole years from ``born`` to ``on`` (negative when ``on`` comes first)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def unique(values: Iterable[str]) -> list[str]:
    """The values in first-seen order, without repeats or blanks."""
    return list(dict.fromkeys(v for v in (value.strip() for value in values) if v))


def find_table(folder: Path, name: str, what: str) -> Path:
    """The CSV file of table ``name`` in ``folder``: ``NAME.csv`` or ``NAME.csv.gz``.

    Upper- and lower-case file names are both accepted (``ADMISSIONS.csv``,
    ``admissions.csv.gz``).

    Args:
        folder: the folder of the tables.
        name: the table name without extension.
        what: the data set, for error messages (``"MIMIC-III"``).

    Raises:
        DataMissingError: the folder or the table is missing.
    """
    if not folder.is_dir():
        raise DataMissingError(f"{what} folder not found: {folder}.")
    for stem in dict.fromkeys((name, name.upper(), name.lower())):
        for suffix in (".csv", ".csv.gz"):
            path = folder / f"{stem}{suffix}"
            if path.is_file():
                return path
    raise DataMissingError(f"{what} table {name}.csv (or {name}.csv.gz) not found in {folder}.")


def read_table(
    path: Path, columns: tuple[str, ...], optional: frozenset[str] = frozenset()
) -> Iterator[list[str]]:
    """Stream the rows of a CSV file (plain or ``.gz``), keeping the named columns.

    Column names are matched case-insensitively (MIMIC-III has upper-case names, its
    demo and Synthea may not).

    Args:
        path: the CSV file.
        columns: the upper-case column names to yield, in this order.
        optional: columns that may be absent; their value is then ``""``.

    Yields:
        One list of values (stripped) per row, in the order of ``columns``.

    Raises:
        InvalidInputError: the file lacks a required column.
    """
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = [column.strip().upper() for column in next(reader, [])]
        missing = [c for c in columns if c not in header and c not in optional]
        if missing:
            raise InvalidInputError(f"{path} lacks the column(s) {', '.join(missing)}.")
        picks = [header.index(column) if column in header else -1 for column in columns]
        for row in reader:
            yield [row[i].strip() if 0 <= i < len(row) else "" for i in picks]


def _open_text(path: Path) -> TextIO:
    """Open a text file for the csv module, decompressing a ``.gz`` one."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def build_patient(what: str, **fields: Any) -> PatientInput:
    """Build a :class:`PatientInput`, turning a validation error into a clear message.

    Args:
        what: the record, for the message (``"MIMIC-III admission 100"``).
        **fields: the fields of :class:`PatientInput`.

    Raises:
        InvalidInputError: the fields are not a valid patient (values are not echoed).
    """
    try:
        return PatientInput(**fields)
    except ValidationError as exc:
        raise InvalidInputError(validation_message(exc, what)) from exc
