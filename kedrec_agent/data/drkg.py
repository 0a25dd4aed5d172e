"""Streaming reader of DRKG-format TSV files (``head<TAB>relation<TAB>tail``, no header).

Works unchanged on the bundle's subset and DDI files and on the full 5.87M-triple
``drkg.tsv``, plain or gzip-compressed; nothing is held in memory.

Example:
    >>> from kedrec_agent.data.drkg import split_entity
    >>> split_entity("Compound::DB00619")
    ('Compound', 'DB00619')
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

from kedrec_agent.errors import DataMissingError, InvalidInputError


class Triple(NamedTuple):
    """One DRKG edge, with entities and relation exactly as written in the file."""

    head: str
    relation: str
    tail: str


def open_text(path: Path) -> IO[str]:
    """Open a plain or ``.gz`` text file for reading as UTF-8.

    Raises:
        DataMissingError: the file does not exist.
    """
    if not path.is_file():
        raise DataMissingError(f"File not found: {path}")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def split_entity(entity: str) -> tuple[str, str]:
    """Split a DRKG entity name into (type, id): ``"Disease::MESH:D015464"`` -> type, id.

    The id may be empty: the full DRKG has an entity named ``Gene::``.
    """
    kind, sep, local = entity.partition("::")
    if not sep or not kind:
        raise InvalidInputError(f"Not a DRKG entity name (Type::id): {entity!r}")
    return kind, local


def iter_triples(path: Path) -> Iterator[Triple]:
    """Stream the triples of a DRKG-format TSV file.

    Blank lines are skipped. A line that does not have exactly three non-empty
    tab-separated fields raises :class:`InvalidInputError` naming file and line.
    """
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not all(parts):
                raise InvalidInputError(
                    f"{path}:{number}: expected 'head<TAB>relation<TAB>tail', got {line[:120]!r}"
                )
            yield Triple(parts[0], parts[1], parts[2])
