"""Free-text patients: what the agent does with descriptions written by people.

The file is JSONL, one object a line: ``text`` (required, the description) and optional
gold fields: ``id`` (a label for the report), ``conditions`` (disease ids or names the
description should link to) and ``drugs`` (DrugBank ids or names of acceptable drugs).
Reported: abstention, linking (patients with a linked condition; recall of the gold
conditions where given), latency, safety warnings, and where ``drugs`` is given the
precision / recall / F1 of the recommended set and whether any recommended drug is
acceptable (hit rate). The text itself is never logged or written to the report.

Example:
    >>> patients = read_patients(Path("patients.jsonl"))  # doctest: +SKIP
    >>> run_patients(patients, agent_recommender())["abstention"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kedrec_agent.agent.result import AgentResult
from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import DataMissingError, InvalidInputError, KedrecError
from kedrec_agent.linking import Linker
from kedrec_agent.patients.model import MAX_TEXT_CHARS
from training.evaluation.metrics import latency, mean, set_metrics

log = logging.getLogger(__name__)

TextRecommender = Callable[[str], AgentResult]
"""Answers one free-text patient."""


@dataclass(frozen=True)
class PatientCase:
    """One line of a patients file."""

    line: int
    text: str
    id: str = ""
    conditions: tuple[str, ...] = ()
    drugs: tuple[str, ...] = ()


def _strings(value: object, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInputError(f"{where}: '{what}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def read_patients(path: Path) -> list[PatientCase]:
    """Read a patients JSONL file (blank lines skipped).

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a line that is not a JSON object with a non-empty ``text``
            string, or with a gold field of the wrong type (file and line named; the
            text is never echoed).
    """
    if not path.is_file():
        raise DataMissingError(f"File not found: {path}")
    cases: list[PatientCase] = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                record = json.loads(line)
            except ValueError:
                raise InvalidInputError(f"{where}: not valid JSON") from None
            if not isinstance(record, dict):
                raise InvalidInputError(f"{where}: not a JSON object")
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"{where}: 'text' must be a non-empty string")
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidInputError(f"{where}: 'text' is over {MAX_TEXT_CHARS} characters")
            label = record.get("id", "")
            cases.append(
                PatientCase(
                    line=number,
                    text=text,
                    id=str(label) if label is not None else "",
                    conditions=_strings(record.get("conditions"), "conditions", where),
                    drugs=_strings(record.get("drugs"), "drugs", where),
                )
            )
    if not cases:
        raise InvalidInputError(f"{path}: no patient (expected one JSON object a line)")
    return cases


@dataclass
class _Resolver:
    """Gold names or ids -> canonical ids (unknown ones kept as given, so they never match)."""

    linker: Linker
    _cache: dict[tuple[str, str], str] = field(default_factory=dict)

    def __call__(self, value: str, kind: str) -> str:
        key = (value, kind)
        if key not in self._cache:
            try:
                entity = self.linker.link(value, "disease" if kind == "disease" else "drug")
                self._cache[key] = entity.canonical
            except KedrecError:
                self._cache[key] = value
        return self._cache[key]


def run_patients(
    cases: Sequence[PatientCase],
    recommender: TextRecommender,
    linker: Linker | None = None,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the agent on every case and summarise (no text in the result).

    Returns:
        ``patients``, ``abstention``, ``linked`` (share with a linked condition),
        ``condition_recall`` (where gold conditions are given), ``with_warnings``,
        ``warnings_per_patient``, latency, and ``gold_drugs`` (precision, recall, F1,
        hit rate over the cases with gold drugs), plus per-case ``cases`` (id, line,
        abstained, recommended ids, warnings count, seconds).
    """
    from kedrec_agent.linking import get_linker

    resolve = _Resolver(linker or get_linker())
    rows: list[dict[str, Any]] = []
    recalls: list[float] = []
    drug_rows: list[dict[str, float]] = []
    hits: list[float] = []
    for case in tqdm(cases, desc="patients", unit="patient", disable=not progress):
        started = time.perf_counter()
        result = recommender(case.text)
        seconds = time.perf_counter() - started
        recommended = [r.drug_id for r in result.recommendations]
        linked = {resolve(c.id, "disease") for c in result.patient.conditions}
        if case.conditions:
            wanted = {resolve(c, "disease") for c in case.conditions}
            recalls.append(len(wanted & linked) / len(wanted))
        if case.drugs:
            acceptable = {resolve(d, "drug") for d in case.drugs}
            drug_rows.append(set_metrics(recommended, acceptable))
            hits.append(float(bool(acceptable & set(recommended))))
        rows.append(
            {
                "id": case.id,
                "line": case.line,
                "abstained": result.abstained,
                "linked_conditions": sorted(linked),
                "recommended": recommended,
                "warnings": len(result.warnings),
                "seconds": round(seconds, 3),
            }
        )
    n = len(rows)
    figures: dict[str, Any] = {
        "patients": n,
        "abstention": mean(float(r["abstained"]) for r in rows),
        "linked": mean(float(bool(r["linked_conditions"])) for r in rows),
        "with_warnings": mean(float(r["warnings"] > 0) for r in rows),
        "warnings_per_patient": mean(float(r["warnings"]) for r in rows),
        **latency([r["seconds"] for r in rows]),
        "cases": rows,
    }
    if recalls:
        figures["condition_recall"] = mean(recalls)
        figures["with_gold_conditions"] = len(recalls)
    if drug_rows:
        figures["gold_drugs"] = {
            "patients": len(drug_rows),
            "precision": mean(r["precision"] for r in drug_rows),
            "recall": mean(r["recall"] for r in drug_rows),
            "f1": mean(r["f1"] for r in drug_rows),
            "hit_rate": mean(hits),
        }
    log.info("patients: %d evaluated", n)
    return figures
