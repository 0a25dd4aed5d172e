"""Vignettes: free-text patients generated from PharmacotherapyDB, scored against its gold.

A benchmark the developers own, built deterministically from a split's
``eval/pharmacotherapydb/indications_<split>.tsv``. Per disease, a short note in natural
language ("63-year-old woman with hypertension."), with an age, a sex and a wording drawn
from a generator seeded by ``seed`` and the disease's DOID (so a disease's vignette does not
change with ``limit`` or with the other diseases of the file). Three variants:

* ``single``: the disease alone;
* ``interacting``: the same patient on a current medication that interacts with many drugs
  (warfarin by default: "..., on warfarin.");
* ``two-conditions``: the disease and a second disease of the same split (a seeded partner
  with a compatible sex), gold = each condition's own.

Gold: the disease's ``DM`` (disease-modifying) and ``SYM`` (symptomatic) drugs; its ``NOT``
drugs (curated non-indications) are wrong answers. The disease is named as
PharmacotherapyDB writes it; a disease whose name the agent's linker cannot link
(:meth:`~kedrec_agent.linking.linker.Linker.link_disease`) is skipped and counted, so that
the benchmark measures recommendation, not linking; so is a disease without a DM/SYM drug.

Figures (per variant and overall; abstentions count as misses):

* ``hit3``: a gold drug among the top 3 recommendations. Counted per condition (the mean
  over a vignette's conditions) over the drugs the answer gives *for* that condition when
  it says which condition a drug is for (a ``condition`` on a recommendation, or a
  per-condition grouping of the answer), else over the whole list. ``hit3_any``: any gold
  drug of any condition among the overall top 3.
* ``top1_dm``: the first recommendation is a DM drug of (its) condition.
  ``top1_dm_possible``: the same over the ``with_dm`` vignettes where it can be (a
  condition has a DM drug: PharmacotherapyDB lists only symptomatic drugs for many, such
  as schizophrenia or Parkinson's disease).
* ``not_rate``: the share of all recommended drugs that are curated ``NOT`` drugs of the
  condition (and gold for none); ``not_top1``: the first one is.
* ``interacting_top_major``: over vignettes with a current medication, the share whose top
  drug has a *major* interaction with it (the answer's interaction warning with the
  medication and its severity, ``ddi_severity``) while a gold drug without a known major
  interaction with it exists (the agent's own KG interactions and severity table).
  ``interacting_top_any``: the same for any interaction warning, against a gold drug with
  no known interaction at all. A warning without a severity counts as ``unknown`` (not
  major); ``severity_reported`` says how many interaction warnings carried one.
* Rationale gate: ``fallback`` (answers ranked by evidence because the model's answer was
  unusable), ``ungrounded`` (recommendations whose model rationale cited no given evidence
  and was replaced by a pointer to the evidence: caught by the gate, not shown) and
  ``gate_failures`` (rationales *shown* as model text that fail this benchmark's own
  checks: empty, citing an evidence id (``E12``) that is not among the drug's evidence, or
  naming another recommended drug but not its own).
* ``abstention``, ``linked`` (the share of the vignette's conditions the answer's patient
  lists), latency (wall seconds per vignette, the stores and model loaded beforehand:
  mean, p50, p95), and a 95% percentile bootstrap interval of ``hit3`` and ``top1_dm``.

The rows (one per vignette) carry no note text: only the disease ids and names, age, sex,
medication ids and what the agent answered. The text is rebuilt from the split and the seed
(:func:`generate_vignettes`) and never logged.

Example:
    >>> result = run_benchmark(Harness(out=Path("out")), split="dev", limit=6)
    ... # doctest: +SKIP
    >>> result["figures"]["overall"]["hit3"]  # doctest: +SKIP
    0.5
"""

from __future__ import annotations

import csv
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from kedrec_agent.errors import DataMissingError, InvalidInputError, KedrecError
from training.evaluation.metrics import latency, mean

if TYPE_CHECKING:
    from kedrec_agent.linking.linker import Linker
    from training.evaluation.suite import Harness

log = logging.getLogger(__name__)

SINGLE = "single"
INTERACTING = "interacting"
TWO_CONDITIONS = "two-conditions"
VARIANTS: tuple[str, ...] = (SINGLE, INTERACTING, TWO_CONDITIONS)
"""Every variant, in the order a disease's vignettes are listed."""

TEMPLATES: tuple[str, ...] = (
    "{age}-year-old {person} with {conditions}{medication}.",
    "A {age}-year-old {person} presenting with {conditions}{medication}.",
    "{age}-year-old {person} diagnosed with {conditions}{medication}.",
)
"""The wordings (one is drawn per disease; its variants share it)."""

AGES = (25, 85)
"""The range of the drawn ages, inclusive."""

_FEMALE = (
    "ovar",
    "cervical",
    "cervix",
    "uterine",
    "uterus",
    "endometri",
    "vulv",
    "vagin",
    "pregnan",
    "menopaus",
)
_MALE = ("prostat", "testic", "testis", "azoosperm", "erectile", "penile")

SEVERITY_FIELDS = ("ddi_severity", "interaction_severity", "ddi_level", "level")
"""Fields of an interaction warning that may carry its severity (first found wins)."""

_EVIDENCE_ID = re.compile(r"\bE\d+\b")
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Medication:
    """The current medication of the ``interacting`` variant, as named in the note."""

    name: str
    drug_id: str


WARFARIN = Medication("warfarin", "DB00682")


@dataclass(frozen=True)
class DiseaseGold:
    """One PharmacotherapyDB disease and its curated drugs.

    Attributes:
        doid: the Disease Ontology id (``doid_id``).
        key: the bundle's disease key (``disease_key``, a MeSH id where there is one).
        name: the name as PharmacotherapyDB writes it (what the note says).
        dm: disease-modifying drugs (DrugBank ids).
        sym: symptomatic drugs.
        wrong: curated non-indications (``NOT``).
        ids: every id the disease goes by: ``doid``, ``key`` and what the linker links the
            name to (its canonical key and equivalents).
    """

    doid: str
    key: str
    name: str
    dm: frozenset[str] = frozenset()
    sym: frozenset[str] = frozenset()
    wrong: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()

    @property
    def gold(self) -> frozenset[str]:
        """The acceptable drugs: DM and SYM."""
        return self.dm | self.sym

    def known_as(self, value: str) -> bool:
        """Whether ``value`` (an id or a name) names this disease."""
        return (
            value in self.ids
            or value in (self.doid, self.key)
            or (value.strip().lower() == self.name.lower())
        )


@dataclass(frozen=True)
class Vignette:
    """One generated patient."""

    id: str
    variant: str
    text: str = field(repr=False)
    age: int
    sex: str
    conditions: tuple[DiseaseGold, ...]
    medications: tuple[Medication, ...] = ()

    @property
    def medication_ids(self) -> frozenset[str]:
        """DrugBank ids of the current medications."""
        return frozenset(m.drug_id for m in self.medications)


@dataclass
class Generated:
    """The vignettes of a split, and what was left out and why."""

    vignettes: list[Vignette]
    diseases: int
    unlinkable: list[str] = field(default_factory=list)
    without_gold: list[str] = field(default_factory=list)
    without_partner: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """The disease counts for the report (skipped diseases named: they are public)."""
        return {
            "in_file": self.diseases,
            "used": self.diseases - len(self.unlinkable) - len(self.without_gold),
            "skipped_unlinkable": len(self.unlinkable),
            "unlinkable": self.unlinkable,
            "skipped_without_gold": len(self.without_gold),
            "without_gold": self.without_gold,
            "without_partner": self.without_partner,
        }


# --- generation ----------------------------------------------------------------------------


def read_indications(path: Path) -> list[DiseaseGold]:
    """The diseases of a PharmacotherapyDB TSV, with their DM, SYM and NOT drugs, by DOID.

    Raises:
        DataMissingError: the file does not exist.
        InvalidInputError: a required column is missing.
    """
    if not path.is_file():
        raise DataMissingError(f"File not found: {path}")
    drugs: dict[str, dict[str, set[str]]] = {}
    names: dict[str, tuple[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        needed = {"doid_id", "drugbank_id", "disease", "category", "disease_key"}
        missing = needed - set(reader.fieldnames or ())
        if missing:
            raise InvalidInputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            doid = row["doid_id"].strip()
            names.setdefault(doid, (row["disease_key"].strip() or doid, row["disease"].strip()))
            by_category = drugs.setdefault(doid, {"DM": set(), "SYM": set(), "NOT": set()})
            category = row["category"].strip().upper()
            if category in by_category:
                by_category[category].add(row["drugbank_id"].strip())
    return [
        DiseaseGold(
            doid=doid,
            key=names[doid][0],
            name=names[doid][1],
            dm=frozenset(d["DM"]),
            sym=frozenset(d["SYM"]),
            wrong=frozenset(d["NOT"]),
        )
        for doid, d in sorted(drugs.items())
    ]


DiseaseLink = Callable[[str], Sequence[str] | None]
"""A disease name -> the ids it links to, or None when it cannot be linked."""


def linker_check(linker: Linker) -> DiseaseLink:
    """The agent's linker as a :data:`DiseaseLink` (``link_disease``; no match: None)."""

    def link(name: str) -> Sequence[str] | None:
        try:
            entity = linker.link_disease(name)
        except KedrecError:
            return None
        return (entity.canonical, *entity.equivalents)

    return link


def sex_of(name: str) -> str | None:
    """The sex a disease's name implies ("ovarian cancer": female), or None."""
    lowered = name.lower()
    if any(stem in lowered for stem in _FEMALE):
        return "female"
    if any(stem in lowered for stem in _MALE):
        return "male"
    return None


def _text(
    template: str,
    age: int,
    sex: str,
    conditions: Sequence[DiseaseGold],
    medications: Sequence[Medication] = (),
) -> str:
    meds = " and ".join(m.name for m in medications)
    return template.format(
        age=age,
        person="woman" if sex == "female" else "man",
        conditions=" and ".join(c.name for c in conditions),
        medication=f", on {meds}" if meds else "",
    )


def generate_vignettes(
    diseases: Sequence[DiseaseGold],
    link: DiseaseLink,
    *,
    split: str = "dev",
    seed: int = 0,
    variants: Sequence[str] = VARIANTS,
    medication: Medication = WARFARIN,
) -> Generated:
    """The vignettes of ``diseases``, deterministically for ``seed``.

    Diseases are listed in a seeded order, each with its variants together (in
    :data:`VARIANTS` order), so that the first N vignettes cover every variant.

    Args:
        diseases: the split's diseases (:func:`read_indications`).
        link: pre-checks each name (:func:`linker_check`); unlinkable names are skipped.
        split: names the vignettes' ids.
        seed: seeds the order, the ages, sexes, wordings and partners.
        variants: which of :data:`VARIANTS` to generate.
        medication: the ``interacting`` variant's current medication.

    Raises:
        InvalidInputError: an unknown variant.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise InvalidInputError(
            f"Unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}."
        )
    generated = Generated([], len(diseases))
    usable: list[DiseaseGold] = []
    for disease in sorted(diseases, key=lambda d: d.doid):
        ids = link(disease.name)
        if ids is None:
            generated.unlinkable.append(disease.name)
        elif not disease.gold:
            generated.without_gold.append(disease.name)
        else:
            usable.append(
                DiseaseGold(
                    disease.doid,
                    disease.key,
                    disease.name,
                    disease.dm,
                    disease.sym,
                    disease.wrong,
                    frozenset({*disease.ids, *ids, disease.doid, disease.key}),
                )
            )
    order = list(usable)
    random.Random(f"vignettes:{seed}").shuffle(order)
    wanted = [v for v in VARIANTS if v in variants]
    for disease in order:
        rng = random.Random(f"vignettes:{seed}:{disease.doid}")
        age = rng.randint(*AGES)
        sex = sex_of(disease.name) or rng.choice(("female", "male"))
        template = rng.choice(TEMPLATES)
        partners = [
            d
            for d in usable
            if d.doid != disease.doid and not d.ids & disease.ids and sex_of(d.name) in (None, sex)
        ]
        partner = rng.choice(partners) if partners else None
        base = f"{split}:{disease.doid}"
        for variant in wanted:
            conditions: tuple[DiseaseGold, ...] = (disease,)
            medications: tuple[Medication, ...] = ()
            if variant == INTERACTING:
                medications = (medication,)
            elif variant == TWO_CONDITIONS:
                if partner is None:
                    generated.without_partner.append(disease.name)
                    continue
                conditions = (disease, partner)
            text = _text(template, age, sex, conditions, medications)
            generated.vignettes.append(
                Vignette(f"{base}:{variant}", variant, text, age, sex, conditions, medications)
            )
    return generated


# --- scoring -------------------------------------------------------------------------------


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return dict(result)
    dumped: dict[str, Any] = result.model_dump(mode="json")
    return dumped


def _ids_of(value: Any) -> list[str]:
    """Condition ids / names in a ``condition`` value: a string, a {id, name} or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(v) for k in ("id", "key", "canonical", "name") if (v := value.get(k))]
    if isinstance(value, Iterable):
        return [i for item in value for i in _ids_of(item)]
    return []


_CONDITION_KEYS = ("condition", "condition_id", "for_condition", "conditions")
_GROUP_KEYS = ("conditions", "per_condition", "by_condition", "condition_groups", "groups")
_GROUP_DRUGS = ("recommendations", "drugs", "drug_ids", "choices")


def _drug_ids(items: Any) -> list[str]:
    if not isinstance(items, Iterable) or isinstance(items, str | Mapping):
        return []
    found = []
    for item in items:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("drug_id"), str):
            found.append(item["drug_id"])
    return found


def _groups(result: Mapping[str, Any]) -> list[tuple[list[str], list[str]]]:
    """(condition ids/names, drug ids in order) of a per-condition grouping of the answer."""
    found: list[tuple[list[str], list[str]]] = []
    for key in _GROUP_KEYS:
        value = result.get(key)
        if isinstance(value, Mapping):
            found += [([str(k)], _drug_ids(v)) for k, v in value.items()]
        elif isinstance(value, list):
            for group in value:
                if not isinstance(group, Mapping):
                    continue
                names = [
                    i
                    for k in ("condition", "condition_id", "id", "key")
                    for i in _ids_of(group.get(k))
                ]
                drugs = next((_drug_ids(group[k]) for k in _GROUP_DRUGS if k in group), [])
                if names:
                    found.append((names, drugs))
    return found


def per_condition(
    result: Mapping[str, Any], conditions: Sequence[DiseaseGold]
) -> dict[str, list[str]] | None:
    """Each condition's recommended drugs in rank order, when the answer says which is for which.

    Reads a ``condition`` (or ``condition_id``, ``conditions``) on each recommendation, else
    a per-condition grouping of the answer (``conditions`` of ``{condition, drug_ids}``,
    ``per_condition``, ``by_condition``, ...).

    Returns:
        Condition ``doid`` -> drug ids; None when the answer attributes no drug to any of
        ``conditions`` (then the whole list counts for every condition).
    """
    recommendations = sorted(result.get("recommendations") or [], key=lambda r: r["rank"])
    attributed: dict[str, list[str]] = {c.doid: [] for c in conditions}
    seen = False
    for rec in recommendations:
        names = [i for k in _CONDITION_KEYS for i in _ids_of(rec.get(k))]
        for condition in conditions:
            if any(condition.known_as(n) for n in names):
                attributed[condition.doid].append(rec["drug_id"])
                seen = True
    if not seen:
        for names, drugs in _groups(result):
            for condition in conditions:
                if any(condition.known_as(n) for n in names):
                    attributed[condition.doid] += [
                        d for d in drugs if d not in attributed[condition.doid]
                    ]
                    seen = True
    return attributed if seen else None


def _severity(warning: Mapping[str, Any]) -> str:
    for key in SEVERITY_FIELDS:
        value = warning.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return "unknown"


def _interaction_warnings(
    result: Mapping[str, Any], drug: str, medications: frozenset[str]
) -> list[Mapping[str, Any]]:
    """The answer's interaction warnings between ``drug`` and a current medication."""
    found: dict[str, Mapping[str, Any]] = {}
    candidates = list(result.get("warnings") or [])
    for rec in result.get("recommendations") or []:
        candidates += rec.get("warnings") or []
    for warning in candidates:
        if warning.get("kind") != "interaction":
            continue
        pair = {warning.get("drug_id"), warning.get("other_id")}
        if drug in pair and pair & medications:
            found.setdefault(str(sorted(warning.items(), key=lambda kv: kv[0])), warning)
    return list(found.values())


RANKS = {"major": 3, "moderate": 2, "minor": 1, "unknown": 0}


def _worst(levels: Iterable[str]) -> str | None:
    ordered = sorted(levels, key=lambda level: RANKS.get(level, 0), reverse=True)
    return ordered[0] if ordered else None


def rationale_failures(rec: Mapping[str, Any], others: Sequence[str]) -> list[str]:
    """Why a rationale shown as the model's text fails this benchmark's checks (empty: passes).

    Args:
        rec: one recommendation (``rationale``, ``name``, ``evidence``).
        others: the names of the answer's other recommended drugs.
    """
    text = str(rec.get("rationale") or "")
    if not text.strip():
        return ["empty"]
    problems = []
    own = {str(e.get("id")) for e in rec.get("evidence") or [] if isinstance(e, Mapping)}
    if own and set(_EVIDENCE_ID.findall(text)) - own:
        problems.append("cites evidence not about the drug")
    lowered = text.lower()
    name = str(rec.get("name") or "").lower()

    def names(drug: str) -> bool:
        return bool(drug) and re.search(rf"\b{re.escape(drug.lower())}\b", lowered) is not None

    if name and not names(name) and any(names(o) for o in others if o.lower() != name):
        problems.append("names another drug, not its own")
    return problems


def _model_text(result: Mapping[str, Any], rec: Mapping[str, Any]) -> bool:
    """Whether ``rec``'s rationale is shown as the model's own text."""
    source = rec.get("rationale_source")
    if isinstance(source, str):
        return source == "model"
    if rec.get("templated") or rec.get("alternative"):
        return False  # an evidence summary, marked as one
    return not result.get("fallback") and rec.get("grounded", True) is not False


def score_row(
    vignette: Vignette,
    result: Any,
    seconds: float,
    gold_interactions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One vignette's row: what the agent answered and its per-vignette figures.

    Args:
        vignette: the patient.
        result: the agent's answer (an ``AgentResult`` or its JSON).
        seconds: wall time of the answer.
        gold_interactions: each gold drug's worst known interaction level with a current
            medication (``major``, ..., ``unknown``); a drug without one is left out.

    Returns:
        A JSON-able row (no note text); :func:`summarise` aggregates rows.
    """
    answer = _as_dict(result)
    meds = vignette.medication_ids
    known = dict(gold_interactions or {})
    recs = sorted(answer.get("recommendations") or [], key=lambda r: r["rank"])
    ids = [r["drug_id"] for r in recs]
    attribution = per_condition(answer, vignette.conditions)
    gold_all = frozenset[str]().union(*(c.gold for c in vignette.conditions)) - meds

    hits = {}
    for c in vignette.conditions:
        top = (attribution[c.doid] if attribution is not None else ids)[:3]
        hits[c.doid] = bool(set(top) & (c.gold - meds))

    def for_drug(drug: str) -> list[DiseaseGold]:
        """The conditions a drug is judged against: its own where attributed, else all."""
        if attribution is not None:
            own = [c for c in vignette.conditions if drug in attribution[c.doid]]
            if own:
                return own
        return list(vignette.conditions)

    def is_not(drug: str) -> bool:
        judged = for_drug(drug)
        return any(drug in c.wrong for c in judged) and not any(drug in c.gold for c in judged)

    top1 = ids[0] if ids else None
    top_level: str | None = None
    if top1 is not None and meds:
        warnings = _interaction_warnings(answer, top1, meds)
        top_level = _worst(_severity(w) for w in warnings)
    all_interaction_warnings = (
        [w for d in ids for w in _interaction_warnings(answer, d, meds)] if meds else []
    )
    others = [str(r.get("name") or "") for r in recs]
    failures = {
        r["drug_id"]: problems
        for r in recs
        if _model_text(answer, r)
        and (problems := rationale_failures(r, [o for o in others if o != r.get("name")]))
    }
    patient = answer.get("patient")
    linked: float | None = None
    if isinstance(patient, Mapping):
        linked_ids = [i for c in patient.get("conditions") or [] for i in _ids_of(c)]
        linked = mean(float(any(c.known_as(i) for i in linked_ids)) for c in vignette.conditions)
    with_meds = bool(meds)
    return {
        "id": vignette.id,
        "variant": vignette.variant,
        "age": vignette.age,
        "sex": vignette.sex,
        "conditions": [
            {
                "doid": c.doid,
                "key": c.key,
                "name": c.name,
                "dm": sorted(c.dm),
                "sym": sorted(c.sym),
                "not": sorted(c.wrong),
            }
            for c in vignette.conditions
        ],
        "medications": sorted(meds),
        "abstained": bool(answer.get("abstained")),
        "reason": str(answer.get("reason") or ""),
        "fallback": bool(answer.get("fallback")),
        "recommended": [
            {
                "rank": r["rank"],
                "drug_id": r["drug_id"],
                "name": r.get("name"),
                "grounded": r.get("grounded"),
                "gold": r["drug_id"] in gold_all,
                "dm": any(r["drug_id"] in c.dm for c in for_drug(r["drug_id"])),
                "not": is_not(r["drug_id"]),
            }
            for r in recs
        ],
        "attributed": attribution is not None,
        "per_condition": attribution,
        "hits": hits,
        "hit3": mean(float(h) for h in hits.values()),
        "hit3_any": bool(set(ids[:3]) & gold_all),
        "top1_dm": top1 is not None and any(top1 in c.dm for c in for_drug(top1)),
        "dm_possible": any(c.dm - meds for c in vignette.conditions),
        "not_count": sum(is_not(d) for d in ids),
        "not_top1": top1 is not None and is_not(top1),
        "n_recommended": len(ids),
        "gold_interactions": dict(sorted(known.items())),
        "top1_interaction": top_level,
        "interaction_warnings": len(all_interaction_warnings),
        "severity_reported": sum(_severity(w) != "unknown" for w in all_interaction_warnings),
        "interacting_top_major": (
            with_meds
            and top_level == "major"
            and any(known.get(g) != "major" for g in gold_all if g != top1)
        ),
        "interacting_top_any": (
            with_meds
            and top_level is not None
            and any(g not in known for g in gold_all if g != top1)
        ),
        "ungrounded": sum(r.get("grounded") is False for r in recs),
        "gate_failures": sum(len(v) > 0 for v in failures.values()),
        "gate_reasons": failures,
        "linked": linked,
        "seconds": round(seconds, 3),
        "stages_ms": {
            str(k): round(float(v), 1) for k, v in (answer.get("timings_ms") or {}).items()
        },
    }


def bootstrap_ci(
    values: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES
) -> list[float]:
    """The 95% percentile bootstrap interval of the mean of ``values`` ([lo, hi]).

    Deterministic for ``seed``; ``[0.0, 0.0]`` for no values.
    """
    if not values:
        return [0.0, 0.0]
    rng = random.Random(f"bootstrap:{seed}")
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    lo = means[int(0.025 * resamples)]
    hi = means[min(resamples - 1, int(0.975 * resamples))]
    return [lo, hi]


def figures(rows: Sequence[Mapping[str, Any]], seed: int = 0) -> dict[str, Any]:
    """The benchmark's figures over ``rows`` (see the module docstring)."""
    n = len(rows)
    recommended = sum(int(r["n_recommended"]) for r in rows)
    hit3 = [float(r["hit3"]) for r in rows]
    top1 = [float(r["top1_dm"]) for r in rows]
    possible = [r for r in rows if r.get("dm_possible", True)]
    with_meds = [r for r in rows if r["medications"]]
    warned = sum(int(r["interaction_warnings"]) for r in rows)
    answered = [r for r in rows if not r["abstained"]]
    linked = [float(r["linked"]) for r in rows if r.get("linked") is not None]
    return {
        "vignettes": n,
        "hit3": mean(hit3),
        "hit3_ci": bootstrap_ci(hit3, seed),
        "hit3_any": mean(float(r["hit3_any"]) for r in rows),
        "top1_dm": mean(top1),
        "top1_dm_ci": bootstrap_ci(top1, seed),
        "with_dm": len(possible),
        "top1_dm_possible": mean(float(r["top1_dm"]) for r in possible),
        "recommended": recommended,
        "drugs_per_vignette": recommended / n if n else 0.0,
        "not_rate": sum(int(r["not_count"]) for r in rows) / recommended if recommended else 0.0,
        "not_top1": mean(float(r["not_top1"]) for r in rows),
        "with_medication": len(with_meds),
        "interacting_top_major": mean(float(r["interacting_top_major"]) for r in with_meds),
        "interacting_top_any": mean(float(r["interacting_top_any"]) for r in with_meds),
        "interaction_warnings": warned,
        "severity_reported": sum(int(r["severity_reported"]) for r in rows),
        "abstention": mean(float(r["abstained"]) for r in rows),
        "fallback": mean(float(r["fallback"]) for r in answered),
        "ungrounded": sum(int(r["ungrounded"]) for r in rows) / recommended if recommended else 0.0,
        "gate_failures": sum(int(r["gate_failures"]) for r in rows),
        "gate_failure_rate": (
            sum(int(r["gate_failures"]) for r in rows) / recommended if recommended else 0.0
        ),
        "attributed": mean(float(r["attributed"]) for r in rows),
        "linked": mean(linked) if linked else None,
        **latency([float(r["seconds"]) for r in rows]),
    }


def summarise(rows: Sequence[Mapping[str, Any]], seed: int = 0) -> dict[str, Any]:
    """:func:`figures` per variant (those present) and ``overall``."""
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]
    summary = {v: figures([r for r in rows if r["variant"] == v], seed) for v in variants}
    summary["overall"] = figures(rows, seed)
    return summary


# --- running -------------------------------------------------------------------------------

Recommender = Callable[[str], Any]
"""Answers one note (an ``AgentResult`` or its JSON)."""

InteractionLevels = Callable[[Sequence[str], Sequence[str]], Mapping[str, str]]
"""(drugs, current medications) -> each drug's worst known interaction level with them."""


def run_vignettes(
    vignettes: Sequence[Vignette],
    recommender: Recommender,
    levels: InteractionLevels | None = None,
    *,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Answer every vignette and score it (one failure does not stop the others).

    Args:
        vignettes: the patients.
        recommender: the agent on one note.
        levels: the gold drugs' interactions with the current medications (default: none
            known, so every gold drug counts as a safe alternative).
        progress: show a progress bar (it never shows the notes).
    """
    rows = []
    for vignette in tqdm(vignettes, desc="vignettes", unit="patient", disable=not progress):
        gold = sorted(frozenset[str]().union(*(c.gold for c in vignette.conditions)))
        meds = sorted(vignette.medication_ids)
        known = dict(levels(gold, meds)) if levels is not None and meds else {}
        started = time.perf_counter()
        try:
            result: Any = recommender(vignette.text)
        except Exception as exc:  # one patient's failure is a row, never the run's end
            log.warning("vignette %s failed: %s", vignette.id, type(exc).__name__)
            result = {
                "abstained": True,
                "reason": f"The agent failed on this patient ({type(exc).__name__}).",
            }
        rows.append(score_row(vignette, result, time.perf_counter() - started, known))
    log.info("vignettes: %d answered", len(rows))
    return rows


def agent_levels() -> InteractionLevels:
    """Interaction levels from the agent's own KG and severity table (its services)."""
    from kedrec_agent.kg.knowledge_graph import MAX_INTERACTION_DRUGS
    from kedrec_agent.safety.severity import worst_with
    from kedrec_agent.services import default_services

    services = default_services()

    def levels(drugs: Sequence[str], medications: Sequence[str]) -> Mapping[str, str]:
        if not drugs or not medications:
            return {}
        kg, size = services.kg(), max(1, MAX_INTERACTION_DRUGS - len(medications))
        found = []
        for start in range(0, len(drugs), size):
            found += kg.interactions_among([*drugs[start : start + size], *medications])
        return dict(worst_with(drugs, medications, found, services.severities()))

    return levels


def parse_variants(text: str | Sequence[str]) -> list[str]:
    """Variants from ``"single,interacting"`` (or a list of such strings).

    Raises:
        InvalidInputError: an unknown variant, or none.
    """
    items = [text] if isinstance(text, str) else list(text)
    names = [p.strip().replace("_", "-") for item in items for p in item.split(",") if p.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise InvalidInputError(
            f"Unknown variant(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(VARIANTS)}."
        )
    return list(dict.fromkeys(names))


def run_benchmark(
    harness: Harness,
    *,
    split: str = "dev",
    limit: int | None = None,
    variants: Sequence[str] = VARIANTS,
    medication: str = WARFARIN.name,
) -> dict[str, Any]:
    """Generate the split's vignettes and run the whole agent on them (default settings).

    Args:
        harness: output folder, seed, settings, literature on/off, progress.
        split: whose PharmacotherapyDB file (:func:`~kedrec_agent.data.bundle.split_files`).
        limit: at most this many vignettes (the first of the seeded order); None: all.
        variants: which of :data:`VARIANTS`.
        medication: the ``interacting`` variant's current medication, by name.

    Returns:
        ``split``, ``file``, ``data_hash``, ``seed``, ``medication``, ``variants``,
        ``diseases`` (counts and skipped names), ``figures`` (:func:`summarise`), ``rows``,
        ``seconds`` (wall time of the run).

    Raises:
        UnknownEntityError: ``medication`` is not a known drug.
    """
    from kedrec_agent.api import recommend
    from kedrec_agent.data.bundle import split_files
    from kedrec_agent.linking import get_linker
    from kedrec_agent.services import default_services

    started = time.perf_counter()
    path = split_files(split, harness.settings).indications
    linker = get_linker(harness.settings)
    drug = linker.link(medication, "drug")
    generated = generate_vignettes(
        read_indications(path),
        linker_check(linker),
        split=split,
        seed=harness.seed,
        variants=variants,
        medication=Medication(medication.strip(), drug.id),
    )
    chosen = generated.vignettes[:limit] if limit is not None else generated.vignettes
    settings: dict[str, Any] = {} if harness.literature else {"literature": False}
    services = default_services()
    for warm in (services.linker, services.kg, services.model, services.severities):
        warm()  # loaded before the clock starts: latency is per patient, not start-up

    def answer(text: str) -> Any:
        return recommend(text, **settings)

    rows = run_vignettes(chosen, answer, agent_levels(), progress=harness.progress)
    return {
        "split": split,
        "file": str(path),
        "data_hash": harness.digest_of([path]),
        "seed": harness.seed,
        "limit": limit,
        "literature": harness.literature,
        "medication": {"name": medication.strip(), "drug_id": drug.id, "linked_as": drug.name},
        "variants": [v for v in VARIANTS if v in variants],
        "diseases": generated.counts(),
        "generated": len(generated.vignettes),
        "figures": summarise(rows, harness.seed),
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- report --------------------------------------------------------------------------------


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}"


def _ci(value: Any, ci: Sequence[float]) -> str:
    return f"{_pct(value)} [{_pct(ci[0])}, {_pct(ci[1])}]"


def markdown(result: Mapping[str, Any], heading: str = "##") -> list[str]:
    """The benchmark's section of a markdown report (lines)."""
    d = result["diseases"]
    overall = result["figures"]["overall"]
    med = result["medication"]
    lines = [
        f"{heading} Vignettes (PharmacotherapyDB {result['split']} split)",
        "",
        f"{overall['vignettes']} vignettes of {result['generated']} generated (seed "
        f"{result['seed']}; variants {', '.join(result['variants'])}; interacting medication "
        f"{med['name']} = {med['drug_id']}) from {d['used']} of {d['in_file']} diseases: "
        f"{d['skipped_unlinkable']} skipped as unlinkable by the agent's linker"
        + (f" ({', '.join(d['unlinkable'])})" if d["unlinkable"] else "")
        + f", {d['skipped_without_gold']} without a DM/SYM drug. Gold: the disease's DM and "
        "SYM drugs; NOT drugs are wrong. Abstentions count as misses. Wall time "
        f"{result['seconds']} s.",
        "",
    ]
    header = [
        "variant",
        "n",
        "hit@3 [95% CI]",
        "top-1 DM [95% CI]",
        "top-1 DM where possible",
        "NOT rate",
        "NOT top-1",
        "interacting top (major / any)",
        "fallback",
        "ungrounded",
        "gate failures shown",
        "abstain",
        "linked",
        "p50 / p95 s",
    ]
    rows = []
    for name, f in result["figures"].items():
        interacting = (
            f"{_pct(f['interacting_top_major'])} / {_pct(f['interacting_top_any'])} "
            f"(n={f['with_medication']})"
            if f["with_medication"]
            else "-"
        )
        rows.append(
            [
                name,
                str(f["vignettes"]),
                _ci(f["hit3"], f["hit3_ci"]),
                _ci(f["top1_dm"], f["top1_dm_ci"]),
                f"{_pct(f['top1_dm_possible'])} (n={f['with_dm']})",
                _pct(f["not_rate"]),
                _pct(f["not_top1"]),
                interacting,
                _pct(f["fallback"]),
                _pct(f["ungrounded"]),
                f"{f['gate_failures']} ({_pct(f['gate_failure_rate'])}%)",
                _pct(f["abstention"]),
                _pct(f["linked"]),
                f"{f['p50_s']:.1f} / {f['p95_s']:.1f}",
            ]
        )
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += [
        "",
        "Percentages. hit@3: a gold drug in the top 3 (per condition, over the drugs the "
        "answer gives for it where it says so"
        + (
            f": {_pct(overall['attributed'])}% of answers did"
            if overall["attributed"]
            else "; no answer did, so over the whole list"
        )
        + "). NOT rate: NOT drugs over all recommended drugs. Interacting top: the top drug "
        "has a major (any) interaction warning with the current medication while a gold drug "
        "without a known major (any) interaction with it exists, over vignettes with the "
        f"medication; {overall['severity_reported']} of {overall['interaction_warnings']} "
        "interaction warnings carried a severity. Fallback: answers ranked by evidence (the "
        "model's answer unusable). Ungrounded: drugs whose model rationale cited no evidence "
        "and was replaced by a pointer (caught, not shown). Gate failures shown: model "
        "rationales shown that are empty, cite evidence not about their drug, or name "
        "another recommended drug but not their own.",
        "",
    ]
    return lines


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """One console line per variant and overall."""
    lines = []
    for name, f in result["figures"].items():
        lines.append(
            f"{name:>15}: n {f['vignettes']} hit@3 {f['hit3']:.3f} "
            f"[{f['hit3_ci'][0]:.2f}, {f['hit3_ci'][1]:.2f}] top-1 DM {f['top1_dm']:.3f} "
            f"({f['top1_dm_possible']:.3f} of {f['with_dm']} with a DM drug) "
            f"NOT {f['not_rate']:.3f} interacting-top major {f['interacting_top_major']:.3f} "
            f"any {f['interacting_top_any']:.3f} fallback {f['fallback']:.2f} gate "
            f"{f['gate_failures']} abstain {f['abstention']:.2f} p50 {f['p50_s']:.1f}s "
            f"p95 {f['p95_s']:.1f}s"
        )
    return lines


def write_markdown(result: Mapping[str, Any], path: Path) -> Path:
    """Write the summary markdown (:func:`markdown`) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(["# KEDRec vignettes", "", *markdown(result)]) + "\n")
    return path
