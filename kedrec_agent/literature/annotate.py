"""Entity annotations of passages: the drugs and diseases the linker finds in their text.

Each passage stores the DrugBank ids and disease ids (MeSH / DOID) named in its title and
body, so that search can filter by entity ("passages about DB00619 and MESH:D015464")
whatever the source, for the bundle and users' own dumps alike. Ingest annotates as it
stores; :func:`annotate_missing` annotates passages stored before annotations existed.

Example:
    >>> Annotator.from_settings().annotate("Imatinib in chronic myeloid leukemia")  # doctest: +SKIP
    Entities(drugs=['DB00619'], diseases=['MESH:D015464'])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tqdm import tqdm

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.linking.extract import find_names
from kedrec_agent.linking.linker import Linker, get_linker
from kedrec_agent.literature.db import Database

log = logging.getLogger(__name__)

BATCH_PASSAGES = 500


@dataclass(frozen=True)
class Entities:
    """Sorted, de-duplicated entity ids named in one passage."""

    drugs: list[str]
    diseases: list[str]


@dataclass
class Annotator:
    """Finds known drug and disease names in passages (dictionary matching, ~1.6 ms each).

    Args:
        linker: the linker whose name index is matched against the text.
    """

    linker: Linker

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Annotator:
        """The annotator over the process-wide linker of ``settings``."""
        return cls(get_linker(settings or get_settings()))

    def annotate(self, text: str) -> Entities:
        """The drugs and diseases named in ``text`` (negated mentions count: they are topics)."""
        drugs: set[str] = set()
        diseases: set[str] = set()
        for match in find_names(self.linker, text, ("drug", "disease")):
            for entry in match.entries:
                (drugs if entry.kind == "drug" else diseases).add(entry.id)
        return Entities(sorted(drugs), sorted(diseases))


def annotate_missing(db: Database, annotator: Annotator, *, progress: bool = False) -> int:
    """Annotate the passages that have no annotations yet; returns how many were updated.

    Only stores built before annotations existed have any (every ingest annotates as it
    stores), so this is a single cheap query on an up-to-date store.
    """
    with db.connection() as conn:
        row = conn.execute("SELECT count(*) FROM passages WHERE drugs IS NULL").fetchone()
    missing = int(str(row[0])) if row else 0
    if not missing:
        return 0
    log.info("annotating %d passages stored before entity annotations", missing)
    done = 0
    with tqdm(total=missing, desc="annotate", unit=" passages", disable=not progress) as bar:
        while True:
            with db.connection() as conn, conn.transaction():
                rows = conn.execute(
                    "SELECT id, title || '. ' || body FROM passages WHERE drugs IS NULL "
                    "ORDER BY id LIMIT %s",
                    (BATCH_PASSAGES,),
                ).fetchall()
                if not rows:
                    return done
                found = [(row[0], annotator.annotate(str(row[1]))) for row in rows]
                with conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE passages SET drugs = %s, diseases = %s WHERE id = %s",
                        [(e.drugs, e.diseases, pid) for pid, e in found],
                    )
            done += len(rows)
            bar.update(len(rows))


__all__ = ["Annotator", "Entities", "annotate_missing"]
