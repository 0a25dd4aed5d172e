"""The SafeDrug / GAMENet cohort: MIMIC-III admissions as (diagnoses, procedures) -> ATC-3 set.

Our own implementation of the logic of SafeDrug's ``data/processing.py`` (Yang et al.,
IJCAI 2021), which GAMENet, MoleRec and CausalMed share:

1. ``PRESCRIPTIONS``: ``NDC`` read as text (leading zeros matter: ``00002...`` is not
   ``2...``); rows with an empty NDC or NDC ``0`` dropped; NDC -> ATC level 3 through the
   bundle's ``mimic_protocol/ndc_to_atc3.tsv`` (SafeDrug's own table); unmapped rows
   dropped; only the ``max_classes`` most frequent classes kept (300 in SafeDrug).
2. ``DIAGNOSES_ICD``: the ``max_diagnosis_codes`` most frequent ICD-9 codes kept (2000);
   ``PROCEDURES_ICD``: every code.
3. An admission is a visit only if it has at least one diagnosis, one procedure and one
   ATC-3 class; a patient is kept with at least ``min_visits`` (2) such visits.

Differences from SafeDrug's script, on purpose: visits are ordered by ``ADMITTIME``
(SafeDrug orders by ``HADM_ID``, which is not chronological); the two-visit filter is
applied after all other filters (SafeDrug applies it before the NDC mapping, so a few of
its patients end with one visit); a missing NDC is dropped rather than forward-filled
from the row above (pandas ``fillna(method='pad')`` in SafeDrug); class frequencies for
the top-300 filter are counted per admission. No name-based fallback maps the rows whose
NDC is not in the table (24% of the demo's valid rows): they are counted in
:attr:`Cohort.coverage` and left out, as in SafeDrug.

Tables are ``NAME.csv`` or ``NAME.csv.gz``, upper- or lower-case names and columns
(:func:`kedrec_agent.patients.common.read_table`).

Example:
    >>> cohort = build_cohort()  # the bundled demo  # doctest: +SKIP
    >>> len(cohort.patients), cohort.visit_count  # doctest: +SKIP
    (11, 36)
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedrec_agent.config import Settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.patients.common import find_table, read_table
from kedrec_agent.patients.mimic import default_mimic_dir
from training.evaluation.safedrug.visits import Patient, Visit

WHAT = "MIMIC-III"
NDC_TABLE = "mimic_protocol/ndc_to_atc3.tsv"
"""The NDC -> ATC-3 table, relative to the data bundle."""

CENTURY_GAP = 50
"""Years apart beyond which two dates of one patient are read as a century wrap."""

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2}))?")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2}))?")


@dataclass(frozen=True)
class CohortFilters:
    """The protocol's filters (SafeDrug's values by default).

    Attributes:
        min_visits: visits a patient needs to stay in the cohort.
        max_diagnosis_codes: keep only this many most frequent diagnosis codes (``None``:
            all).
        max_classes: keep only this many most frequent ATC-3 classes (``None``: all).
    """

    min_visits: int = 2
    max_diagnosis_codes: int | None = 2000
    max_classes: int | None = 300


@dataclass(frozen=True)
class Cohort:
    """The patients of the protocol and how they were obtained.

    Attributes:
        patients: the kept patients, by ``SUBJECT_ID``; each one's visits in order.
        classes: every ATC-3 class prescribed in the kept visits, sorted.
        coverage: NDC mapping of the ``PRESCRIPTIONS`` rows: ``rows`` (with a HADM_ID),
            ``rows_valid_ndc`` (NDC neither empty nor ``0``), ``rows_mapped`` (NDC in the
            table), ``row_coverage`` (mapped over valid), the same for distinct NDCs.
        counts: admissions and patients at each step of the filters.
        source: the folder read.
    """

    patients: tuple[Patient, ...]
    classes: tuple[str, ...]
    coverage: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    source: str = ""

    @property
    def visit_count(self) -> int:
        """Visits of all kept patients."""
        return sum(len(p.visits) for p in self.patients)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures: patients, visits, classes, codes, coverage and filter counts."""
        visits = [v for p in self.patients for v in p.visits]
        return {
            "source": self.source,
            "patients": len(self.patients),
            "visits": len(visits),
            "later_visits": len(visits) - len(self.patients),
            "classes": len(self.classes),
            "diagnosis_codes": len({d for v in visits for d in v.diagnoses}),
            "procedure_codes": len({c for v in visits for c in v.procedures}),
            "avg_classes_per_visit": (
                sum(len(v.medications) for v in visits) / len(visits) if visits else 0.0
            ),
            "coverage": dict(self.coverage),
            "counts": dict(self.counts),
        }


def normalize_ndc(value: str) -> str | None:
    """An NDC as text (leading zeros kept), or ``None`` for an empty one or ``0``.

    Example:
        >>> normalize_ndc(" 00002140701 "), normalize_ndc("0"), normalize_ndc("")
        ('00002140701', None, None)
    """
    text = value.strip()
    return None if not text or text == "0" else text


def read_ndc_table(path: Path | None = None) -> dict[str, str]:
    """NDC (text) -> ATC-3 class, from a two-column TSV with a header (``ndc atc3``).

    Args:
        path: the table (default: the bundle's ``mimic_protocol/ndc_to_atc3.tsv``).

    Raises:
        InvalidInputError: a line does not have two columns.
    """
    path = path or Settings.from_env().data_dir / NDC_TABLE
    table: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        next(handle, None)
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                raise InvalidInputError(f"{path}, line {number}: expected `ndc<TAB>atc3`.")
            ndc = normalize_ndc(parts[0])
            if ndc is not None and parts[1].strip():
                table[ndc] = parts[1].strip()[:4]
    return table


def admit_time(value: str) -> str:
    """``ADMITTIME`` as sortable ``YYYY-MM-DD HH:MM``; ``""`` if unreadable.

    MIMIC-III writes ISO timestamps; spreadsheet-saved copies (the bundled demo) write
    ``M/D/YY H:MM``, whose two-digit year is read as 21YY, the range of MIMIC-III's
    shifted dates.

    Example:
        >>> admit_time("10/23/64 21:09"), admit_time("2146-07-21 00:00:00")
        ('2164-10-23 21:09', '2146-07-21 00:00')
    """
    text = value.strip()
    if match := _ISO.match(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    elif match := _US.match(text):
        month, day, year = int(match[1]), int(match[2]), int(match[3])
        year = 2100 + year if len(match[3]) == 2 else year
    else:
        return ""
    hour, minute = int(match[4] or 0), int(match[5] or 0)
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}"


def _int(value: str, path: Path, number: int, column: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise InvalidInputError(f"{path}, line {number}: {column} is not an integer.") from None


def _codes(mimic_dir: Path, table: str) -> tuple[dict[int, set[str]], dict[int, int]]:
    """Per HADM_ID the distinct ICD-9 codes of a table, and each admission's SUBJECT_ID."""
    path = find_table(mimic_dir, table, WHAT)
    codes: dict[int, set[str]] = defaultdict(set)
    subjects: dict[int, int] = {}
    rows = read_table(path, ("SUBJECT_ID", "HADM_ID", "ICD9_CODE"))
    for number, (subject, hadm, code) in enumerate(rows, start=2):
        if not hadm or not code:
            continue
        admission = _int(hadm, path, number, "HADM_ID")
        codes[admission].add(code)
        if subject:
            subjects[admission] = _int(subject, path, number, "SUBJECT_ID")
    return codes, subjects


def _most_frequent(per_admission: dict[int, set[str]], keep: int | None) -> set[str] | None:
    """The ``keep`` codes found in most admissions (ties: by code); ``None``: keep all."""
    if keep is None:
        return None
    counts = Counter(code for codes in per_admission.values() for code in codes)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {code for code, _ in ranked[:keep]}


def _prescribed_classes(
    mimic_dir: Path, ndc_table: dict[str, str]
) -> tuple[dict[int, set[str]], dict[int, int], dict[str, float]]:
    """Per HADM_ID the ATC-3 classes prescribed; SUBJECT_IDs; the mapping coverage."""
    path = find_table(mimic_dir, "PRESCRIPTIONS", WHAT)
    classes: dict[int, set[str]] = defaultdict(set)
    subjects: dict[int, int] = {}
    rows = valid = mapped = 0
    valid_ndcs: set[str] = set()
    for number, (subject, hadm, raw) in enumerate(
        read_table(path, ("SUBJECT_ID", "HADM_ID", "NDC")), start=2
    ):
        if not hadm:
            continue
        rows += 1
        ndc = normalize_ndc(raw)
        if ndc is None:
            continue
        valid += 1
        valid_ndcs.add(ndc)
        atc3 = ndc_table.get(ndc)
        if atc3 is None:
            continue
        mapped += 1
        admission = _int(hadm, path, number, "HADM_ID")
        classes[admission].add(atc3)
        if subject:
            subjects[admission] = _int(subject, path, number, "SUBJECT_ID")
    mapped_ndcs = sum(ndc in ndc_table for ndc in valid_ndcs)
    coverage = {
        "rows": float(rows),
        "rows_valid_ndc": float(valid),
        "rows_mapped": float(mapped),
        "row_coverage": mapped / valid if valid else 0.0,
        "ndcs": float(len(valid_ndcs)),
        "ndcs_mapped": float(mapped_ndcs),
        "ndc_coverage": mapped_ndcs / len(valid_ndcs) if valid_ndcs else 0.0,
    }
    return classes, subjects, coverage


def _admissions(mimic_dir: Path) -> tuple[dict[int, int], dict[int, str], set[int]]:
    """SUBJECT_ID and normalized ADMITTIME per HADM_ID, from ``ADMISSIONS``.

    Also the HADM_IDs whose ADMITTIME has a two-digit year (century to be checked).
    """
    path = find_table(mimic_dir, "ADMISSIONS", WHAT)
    subjects: dict[int, int] = {}
    times: dict[int, str] = {}
    two_digit: set[int] = set()
    rows = read_table(path, ("SUBJECT_ID", "HADM_ID", "ADMITTIME"))
    for number, (subject, hadm, admitted) in enumerate(rows, start=2):
        if not hadm:
            continue
        admission = _int(hadm, path, number, "HADM_ID")
        if subject:
            subjects[admission] = _int(subject, path, number, "SUBJECT_ID")
        times[admission] = admit_time(admitted)
        if (match := _US.match(admitted.strip())) and len(match[3]) == 2:
            two_digit.add(admission)
    return subjects, times, two_digit


def _visit_order(visit: Visit) -> tuple[bool, str, int]:
    """Admission time first (unknown last), then HADM_ID."""
    return (not visit.admitted, visit.admitted, visit.hadm_id)


def _one_century(visits: list[Visit], two_digit: set[int]) -> list[Visit]:
    """Undo a century wrap of two-digit years within one patient's visits.

    ``10/29/98`` and ``3/17/00`` of one patient are 2198 and 2200, not 2198 and 2100: a
    patient's stays span less than :data:`CENTURY_GAP` years, so when read years are
    further apart the low ones move up a century.
    """
    years = [int(v.admitted[:4]) for v in visits if v.admitted and v.hadm_id in two_digit]
    if not years or max(years) - min(years) <= CENTURY_GAP:
        return visits
    low = min(years) + CENTURY_GAP
    return [
        dataclasses.replace(v, admitted=f"{int(v.admitted[:4]) + 100}{v.admitted[4:]}")
        if v.hadm_id in two_digit and v.admitted and int(v.admitted[:4]) < low
        else v
        for v in visits
    ]


def _restrict(per_admission: dict[int, set[str]], kept: set[str] | None) -> dict[int, set[str]]:
    if kept is None:
        return per_admission
    return {h: codes & kept for h, codes in per_admission.items() if codes & kept}


def build_cohort(
    mimic_dir: Path | None = None,
    *,
    ndc_table: Path | dict[str, str] | None = None,
    filters: CohortFilters | None = None,
) -> Cohort:
    """Read MIMIC-III tables and build the protocol's patients and visits.

    Args:
        mimic_dir: the folder of ``ADMISSIONS``, ``DIAGNOSES_ICD``, ``PROCEDURES_ICD`` and
            ``PRESCRIPTIONS`` (default: the bundled demo).
        ndc_table: NDC -> ATC-3, as a TSV path or a mapping (default: the bundle's table).
        filters: the protocol's filters (default: SafeDrug's).

    Returns:
        The cohort, with the NDC mapping coverage and the counts at each filter.

    Raises:
        DataMissingError: the folder or a table is missing.
        InvalidInputError: a table lacks a column or holds a non-integer id.
    """
    folder = mimic_dir or default_mimic_dir()
    rules = filters or CohortFilters()
    table = ndc_table if isinstance(ndc_table, dict) else read_ndc_table(ndc_table)
    admission_subjects, times, two_digit = _admissions(folder)
    diagnoses, diagnosis_subjects = _codes(folder, "DIAGNOSES_ICD")
    procedures, procedure_subjects = _codes(folder, "PROCEDURES_ICD")
    medications, medication_subjects, coverage = _prescribed_classes(folder, table)
    diagnoses = _restrict(diagnoses, _most_frequent(diagnoses, rules.max_diagnosis_codes))
    medications = _restrict(medications, _most_frequent(medications, rules.max_classes))
    complete = set(diagnoses) & set(procedures) & set(medications)
    subjects = {**medication_subjects, **procedure_subjects, **diagnosis_subjects}
    subjects.update(admission_subjects)
    by_patient: dict[int, list[Visit]] = defaultdict(list)
    for hadm in complete:
        if hadm not in subjects:
            continue
        visit = Visit(
            subject_id=subjects[hadm],
            hadm_id=hadm,
            admitted=times.get(hadm, ""),
            diagnoses=frozenset(diagnoses[hadm]),
            procedures=frozenset(procedures[hadm]),
            medications=frozenset(medications[hadm]),
        )
        by_patient[visit.subject_id].append(visit)
    patients = tuple(
        Patient(subject, tuple(sorted(_one_century(visits, two_digit), key=_visit_order)))
        for subject, visits in sorted(by_patient.items())
        if len(visits) >= rules.min_visits
    )
    counts = {
        "admissions": len(times),
        "with_diagnosis": len(diagnoses),
        "with_procedure": len(procedures),
        "with_mapped_class": len(medications),
        "with_all_three": len(complete),
        "patients_with_a_visit": len(by_patient),
        "patients_kept": len(patients),
        "visits_kept": sum(len(p.visits) for p in patients),
    }
    return Cohort(
        patients=patients,
        classes=tuple(sorted({c for p in patients for v in p.visits for c in v.medications})),
        coverage=coverage,
        counts=counts,
        source=str(folder),
    )
