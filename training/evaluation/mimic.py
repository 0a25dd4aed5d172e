"""MIMIC-III medication recommendation: diagnoses in, a drug set out, against the prescriptions.

Per admission the agent gets the ICD-9 diagnoses (never the prescriptions, see
:func:`kedrec_agent.patients.from_mimic`) and recommends a drug set; the admission's
``PRESCRIPTIONS`` mapped to DrugBank by the linker are the ground truth. The metrics are
those of the SafeDrug line of work: Jaccard, F1, PRAUC (average precision of the ranked
recommendation), the average number of drugs, and the DDI rate of the recommended sets
beside that of the prescribed sets. The bundled demo is read by default; the full
MIMIC-III works the same way (``--mimic-dir``), with a seeded sample of admissions.

Example:
    >>> result = run_mimic(recommender, limit=20)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kedrec_agent.agent.result import AgentResult
from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data.drkg import iter_triples
from kedrec_agent.errors import InvalidInputError, KedrecError
from kedrec_agent.linking import Linker
from kedrec_agent.patients import PatientInput
from kedrec_agent.patients.common import find_table, read_table
from kedrec_agent.patients.mimic import default_mimic_dir, from_mimic, mimic_admissions
from training.evaluation.metrics import average_precision, ddi_rate, latency, mean, set_metrics
from training.tasks.kg_embedding import graph_files

log = logging.getLogger(__name__)

Recommender = Callable[[PatientInput], AgentResult]
"""Answers one patient (the agent by default; tests pass a stand-in)."""

MIN_LINK_SCORE = 90.0
"""A prescription name maps to a DrugBank drug only on an exact or near-exact match."""


# Prescription names carry formulary flags, strengths, forms and routes
# ("*NF* Cabergoline", "Acetaminophen (Liquid)", "Heparin Flush (10 units/ml)", "Albumin 5% (25g)").
_FLAG = re.compile(r"^\*\w+\*\s*")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_DOSE = re.compile(r"\b\d+(\.\d+)?\s*(%|mg|mcg|g|gm|ml|units?|meq|mmol)?(/\s*\d*\s*\w+)?\b", re.I)
_FORMS = (
    "iv po pr sl im sc neb nebs inh inhaler soln sol susp suspension liquid oral rectal "
    "vaginal ophth opth ophthalmic topical cream oint ointment gel tab tabs caps cap "
    "capsule inj injection drip flush premix mini bag plus ns d5w syringe patch spray "
    "enema sprinkles extended release er sr xl cr dr ec hcl hydrochloride sodium sod na "
    "potassium sulfate bisulfate tartrate oxalate phosphate succinate maleate mesylate "
    "besylate fumarate acetate"
)
_FORM_WORDS = frozenset(_FORMS.split())


def clean_name(name: str) -> str:
    """A prescription name without flags, brackets, strengths, forms and routes.

    Example:
        >>> clean_name("*NF* Ketorolac 0.5% Ophth Soln")
        'ketorolac'
    """
    text = _BRACKETS.sub(" ", _FLAG.sub("", name.strip().lower()))
    text = _DOSE.sub(" ", text).replace("%", " ")
    words = [w.strip(".") for w in re.split(r"[\s,]+", text)]
    return " ".join(w for w in words if w and w not in _FORM_WORDS and any(c.isalpha() for c in w))


def _key(a: str, b: str) -> int:
    x, y = sorted((int(a[2:]), int(b[2:])))
    return x * 1_000_000 + y


@dataclass
class DDIIndex:
    """Interacting drug pairs (DRKG's DDI relations), as compact integer keys."""

    pairs: set[int] = field(default_factory=set)

    @classmethod
    def read(cls, paths: Iterable[Path]) -> DDIIndex:
        """Every ``Compound``-``Compound`` edge whose relation names a DDI, from DRKG files."""
        index = cls()
        for path in paths:
            for head, relation, tail in iter_triples(path):
                if (
                    "ddi" in relation.lower()
                    and head.startswith("Compound::DB")
                    and tail.startswith("Compound::DB")
                ):
                    try:
                        index.pairs.add(_key(head[10:], tail[10:]))
                    except ValueError:  # not a numeric DrugBank id
                        continue
        return index

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DDIIndex:
        """The DDI pairs of the configured graph (``KEDREC_DRKG`` or the bundle)."""
        return cls.read(graph_files(settings or get_settings()))

    def interacts(self, a: str, b: str) -> bool:
        """Whether two DrugBank drugs are known to interact."""
        try:
            return a != b and _key(a, b) in self.pairs
        except ValueError:
            return False


@dataclass
class DrugMapper:
    """Prescription names -> DrugBank ids through the linker (cached; coverage counted)."""

    linker: Linker
    min_score: float = MIN_LINK_SCORE
    _cache: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __call__(self, name: str) -> tuple[str, ...]:
        """The DrugBank ids of a prescription name (a combination gives several; none: ``()``).

        The name as written, else cleaned (:func:`clean_name`), else each part of a
        combination (``amoxicillin-clavulanic acid``) on its own.
        """
        key = name.strip().lower()
        if key not in self._cache:
            cleaned = clean_name(key)
            found = self._link(key) or self._link(cleaned)
            if found is not None:
                self._cache[key] = (found,)
            else:
                parts = [clean_name(p) for p in re.split(r"[-/]| w/ ", cleaned) if p.strip()]
                ids = [self._link(p) for p in parts] if len(parts) > 1 else []
                self._cache[key] = tuple(dict.fromkeys(i for i in ids if i is not None))
        return self._cache[key]

    def _link(self, text: str) -> str | None:
        if not text:
            return None
        try:
            entity = self.linker.link_drug(text[:500])
        except KedrecError:
            return None
        return entity.id if entity.score >= self.min_score else None


def prescriptions(mimic_dir: Path, admissions: set[int]) -> dict[int, list[str]]:
    """The prescribed drug names of the given admissions (generic name, else ``DRUG``).

    Raises:
        DataMissingError: ``PRESCRIPTIONS.csv(.gz)`` is missing.
        InvalidInputError: it lacks a column, or holds a non-integer HADM_ID.
    """
    path = find_table(mimic_dir, "PRESCRIPTIONS", "MIMIC-III")
    found: dict[int, list[str]] = {}
    columns = ("HADM_ID", "DRUG", "DRUG_NAME_GENERIC")
    for number, (hadm, drug, generic) in enumerate(
        read_table(path, columns, optional=frozenset({"DRUG_NAME_GENERIC"})), start=2
    ):
        if not hadm:
            continue
        try:
            admission = int(hadm)
        except ValueError:
            raise InvalidInputError(f"{path}, line {number}: HADM_ID is not an integer") from None
        if admission in admissions and (generic or drug):
            found.setdefault(admission, []).append(generic or drug)
    return found


def pick_admissions(mimic_dir: Path, limit: int | None, seed: int = 0) -> list[int]:
    """All admissions of the folder, or a seeded sample of ``limit`` in file order."""
    every = mimic_admissions(mimic_dir)
    if limit is None or limit >= len(every):
        return every
    picked = sorted(random.Random(seed).sample(range(len(every)), limit))
    return [every[i] for i in picked]


def _method_metrics(
    ranked: dict[int, list[str]], gold: dict[int, set[str]], ddi: DDIIndex
) -> dict[str, float]:
    rows = [set_metrics(ranked[h], gold[h]) for h in ranked]
    return {
        "admissions": float(len(ranked)),
        "jaccard": mean(r["jaccard"] for r in rows),
        "precision": mean(r["precision"] for r in rows),
        "recall": mean(r["recall"] for r in rows),
        "f1": mean(r["f1"] for r in rows),
        "prauc": mean(average_precision(ranked[h], gold[h]) for h in ranked),
        "avg_drugs": mean(float(len(set(ranked[h]))) for h in ranked),
        "ddi_rate": ddi_rate(ranked.values(), ddi.interacts),
    }


def run_mimic(
    recommender: Recommender,
    *,
    mimic_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    admissions: Sequence[int] | None = None,
    linker: Linker | None = None,
    ddi: DDIIndex | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Recommend for each admission and compare with its mapped prescriptions.

    Methods: ``agent`` (the recommender's set, in rank order), ``agent-no-safety`` (the
    same run with the drugs the safety step withheld put back: the agent without its
    safety stage) and ``popularity`` (the drugs most often prescribed in the other
    evaluated admissions, as many as the agent may recommend; leave-one-out).

    Args:
        recommender: answers one patient (e.g. :func:`kedrec_agent.api.recommend`).
        mimic_dir: the MIMIC-III tables (default: the bundled demo).
        limit: at most this many admissions (a seeded sample); ``None``: all.
        seed: seeds the sample.
        admissions: evaluate these HADM_IDs instead (``limit`` and ``seed`` unused).
        linker: maps prescription names (default: the configured linker).
        ddi: interacting pairs (default: read from the configured graph).
        progress: show a progress bar.

    Returns:
        ``mapping`` (coverage), ``methods`` (metrics per method), ``ground_truth``
        (average drugs and DDI rate of the prescribed sets), ``abstention``, latency and
        ``skipped`` counts.
    """
    from kedrec_agent.linking import get_linker

    folder = mimic_dir or default_mimic_dir()
    linker = linker or get_linker()
    ddi = ddi or DDIIndex.from_settings()
    chosen = list(admissions) if admissions is not None else pick_admissions(folder, limit, seed)
    named = prescriptions(folder, set(chosen))
    mapper = DrugMapper(linker)
    rows = mapped_rows = 0
    names: set[str] = set()
    gold: dict[int, set[str]] = {}
    for hadm in chosen:
        ids: set[str] = set()
        for name in named.get(hadm, []):
            rows += 1
            names.add(name.strip().lower())
            drugs = mapper(name)
            if drugs:
                mapped_rows += 1
                ids.update(drugs)
        if ids:
            gold[hadm] = ids
    mapped_names = sum(bool(mapper(n)) for n in names)
    runs: dict[str, dict[int, list[str]]] = {"agent": {}, "agent-no-safety": {}}
    seconds: list[float] = []
    abstained = failed = 0
    max_drugs = 0
    for hadm in tqdm(list(gold), desc="mimic admissions", unit="adm", disable=not progress):
        try:
            patient = from_mimic(hadm, folder)
        except InvalidInputError:  # no diagnosis code
            failed += 1
            continue
        started = time.perf_counter()
        result = recommender(patient)
        seconds.append(time.perf_counter() - started)
        abstained += result.abstained
        recommended = [r.drug_id for r in sorted(result.recommendations, key=lambda r: r.rank)]
        withheld = [
            w.drug_id
            for w in result.warnings
            if w.severity == "veto" and w.drug_id and w.drug_id not in recommended
        ]
        runs["agent"][hadm] = recommended
        runs["agent-no-safety"][hadm] = recommended + list(dict.fromkeys(withheld))
        max_drugs = max(max_drugs, len(recommended))
    answered = list(runs["agent"])
    counts = Counter(d for h in answered for d in gold[h])
    popular: dict[int, list[str]] = {}
    for hadm in answered:
        others = counts - Counter(gold[hadm])
        top = sorted(others.items(), key=lambda item: (-item[1], item[0]))
        popular[hadm] = [d for d, _ in top[: max(max_drugs, 1)]]
    runs["popularity"] = popular
    truth = {h: gold[h] for h in answered}
    return {
        "admissions_selected": len(chosen),
        "admissions_evaluated": len(answered),
        "skipped": {
            "no_mapped_prescription": len(chosen) - len(gold),
            "no_diagnosis": failed,
        },
        "mapping": {
            "rows": rows,
            "rows_mapped": mapped_rows,
            "row_coverage": mapped_rows / rows if rows else 0.0,
            "names": len(names),
            "names_mapped": mapped_names,
            "name_coverage": mapped_names / len(names) if names else 0.0,
        },
        "ground_truth": {
            "avg_drugs": mean(float(len(truth[h])) for h in truth),
            "ddi_rate": ddi_rate(truth.values(), ddi.interacts),
        },
        "methods": {name: _method_metrics(run, truth, ddi) for name, run in runs.items()},
        "abstention": abstained / len(answered) if answered else 0.0,
        "latency": latency(seconds),
    }


def agent_recommender(**settings: Any) -> Recommender:
    """The agent (:func:`kedrec_agent.api.recommend`) with the given Context settings.

    The agent answers per condition (``max_choices`` each); the admission's set keeps at
    most ``max_choices`` drugs in all, taken in turn from each condition's options.
    """
    from kedrec_agent.api import recommend

    limit = int(settings.get("max_choices", 3))

    def answer(patient: PatientInput) -> AgentResult:
        result = recommend(patient, **settings)
        groups = [drugs for _, drugs in result.grouped()]
        turns = [d for i in range(limit) for drugs in groups if i < len(drugs) for d in [drugs[i]]]
        return result.model_copy(update={"recommendations": turns[:limit]})

    return answer
