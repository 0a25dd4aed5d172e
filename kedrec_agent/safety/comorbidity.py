"""Drug-disease cautions: a drug known to harm an organ or condition the patient already has.

Metformin for a patient with renal insufficiency, hydrochlorothiazide for one with gout, a
drug that can cause bronchospasm for one with asthma: the drug-disease interactions that
prescribing criteria single out (the AGS Beers criteria's "drug-disease or drug-syndrome
interactions": heart failure, seizures, peptic ulcer, chronic kidney disease, urinary
retention, ...). :data:`VULNERABLE` lists those groups as MeSH headings; a heading's
subtree belongs to it.

The drugs' harms come from SIDER (``safety/sider_side_effects.tsv.gz``: DrugBank id, the
MedDRA term, its highest reported frequency). Each term is linked to a disease once per
process, by an exact name match or :data:`MEDDRA_TO_MESH` for the MedDRA terms MeSH words
differently ("Renal failure acute" is *Acute Kidney Injury*); other terms are ignored. A
drug is cautioned when one of its side effects falls in the group of one of the patient's
conditions. Only these groups are checked: side effects at large (hypertension, listed for
four drugs in ten) say little about a drug's fitness for a patient who has them.

A side-effect list is not a contraindication list, so the finding only reorders: a drug
with a caution goes behind a similarly supported alternative without one (the rule of
:func:`kedrec_agent.reasoning.ranking.ranked_candidates`) and, if still recommended, is
shown with the warning. A side effect does not caution a drug for a group it is itself
proposed for (diuretics for heart failure list cardiac failure among their effects); a class
or drug rule does (DrugBank lists ibuprofen for heart failure, which NSAIDs worsen).

Example:
    >>> effects = SideEffects({"DB00999": {"gout": ("Gout", None)}}, {"MESH:D006073": "gout"})
    >>> found = comorbidity_cautions([("DB00999", "Hydrochlorothiazide", "MESH:D006973")],
    ...     ["MESH:D006973", "MESH:D006073"], {"MESH:D006073": "Gout"}, effects)
    >>> found["DB00999"].message.split(" (")[0]
    'Comorbidity caution: Hydrochlorothiazide can cause gout'
    >>> found["DB00999"].strong  # listed without a frequency
    False
"""

from __future__ import annotations

import csv
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data import bundle
from kedrec_agent.data.drkg import open_text
from kedrec_agent.errors import DataMissingError

log = logging.getLogger(__name__)

VULNERABLE: dict[str, tuple[str, ...]] = {
    "kidney": ("MESH:D051437", "MESH:D007683"),  # renal insufficiency, acute tubular necrosis
    "heart failure": ("MESH:D006333",),
    "liver": ("MESH:D048550", "MESH:D056486", "MESH:D008103"),  # failure, DILI, cirrhosis
    "gout": ("MESH:D006073", "MESH:D033461"),  # gout, hyperuricaemia
    "bronchospasm": ("MESH:D001249", "MESH:D029424", "MESH:D001986"),  # asthma, COPD
    "seizures": ("MESH:D012640", "MESH:D004827"),  # seizures, epilepsy
    "myasthenia": ("MESH:D009157",),
    "QT prolongation": ("MESH:D008133", "MESH:D016171"),  # long QT, torsades de pointes
    "bleeding ulcer": ("MESH:D010437", "MESH:D006471"),  # peptic ulcer, GI haemorrhage
    "glaucoma": ("MESH:D005901",),
    "urinary retention": ("MESH:D016055", "MESH:D011470"),  # retention, prostatic hyperplasia
    "hyperkalaemia": ("MESH:D006947",),
    "pancreatitis": ("MESH:D010195",),
}
"""Groups of conditions a drug can worsen, by MeSH heading (each with its subtree)."""

SYMPTOMS = frozenset({"MESH:D004418", "MESH:D004489"})
"""Symptoms inside a group's subtree that are no sign of the disease as a side effect
(paroxysmal dyspnoea, cardiac oedema: SIDER's "Dyspnoea" links to the first)."""

MIN_FREQUENCY = 0.01
"""A side effect reported in fewer patients than this (post-marketing, "rare") is ignored;
one listed without a frequency counts."""

MEDDRA_TO_MESH: dict[str, str] = {
    "renal failure acute": "MESH:D058186",
    "acute prerenal failure": "MESH:D058186",
    "renal impairment": "MESH:D051437",
    "renal failure chronic": "MESH:D051436",
    "nephropathy toxic": "MESH:D051437",
    "renal tubular necrosis": "MESH:D007683",
    "cardiac failure congestive": "MESH:D006333",
    "cardiac failure acute": "MESH:D006333",
    "cardiac failure chronic": "MESH:D006333",
    "hepatic failure": "MESH:D048550",
    "hepatotoxicity": "MESH:D056486",
    "liver injury": "MESH:D056486",
    "electrocardiogram qt prolonged": "MESH:D008133",
    "bronchospasm": "MESH:D001986",
}
"""MedDRA terms of SIDER that name a :data:`VULNERABLE` disease in words MeSH does not use."""

CLASS_CAUTIONS: dict[str, tuple[str, dict[str, str]]] = {
    **{
        atc: (
            "an NSAID",
            {
                "kidney": "NSAIDs reduce renal blood flow (AGS Beers 2023: avoid at CrCl < 30)",
                "heart failure": "NSAIDs retain fluid and can worsen heart failure (Beers: avoid)",
                "bleeding ulcer": "NSAIDs cause gastric ulcers and bleeding (Beers: avoid)",
            },
        )
        for atc in ("M01AA", "M01AB", "M01AC", "M01AE", "M01AG", "M01AH")
    },
    "C08DA": ("a non-dihydropyridine calcium-channel blocker", {
        "heart failure": "it depresses contractility (Beers: avoid in reduced ejection fraction)",
    }),
    "C08DB": ("a non-dihydropyridine calcium-channel blocker", {
        "heart failure": "it depresses contractility (Beers: avoid in reduced ejection fraction)",
    }),
    "A10BG": ("a thiazolidinedione", {
        "heart failure": "it retains fluid and can worsen heart failure (Beers: avoid)",
    }),
    "A10BA": ("a biguanide", {
        "kidney": "metformin is contraindicated below eGFR 30 (lactic acidosis)",
    }),
    "A10BB": ("a sulfonylurea", {
        "kidney": "it or its metabolites are cleared by the kidney: prolonged hypoglycaemia",
    }),
    "M04AC": ("colchicine", {
        "kidney": "it is cleared by the kidney: reduce the dose, avoid on dialysis",
    }),
    "C03DA": ("a potassium-sparing diuretic", {
        "kidney": "it raises potassium as renal function falls",
        "hyperkalaemia": "it raises potassium",
    }),
    **{
        atc: (
            "a non-selective beta-blocker",
            {
                "bronchospasm": "blocking bronchial beta2 receptors causes bronchospasm (labels "
                "of propranolol, timolol, carvedilol: contraindicated in bronchial asthma; GINA)",
            },
        )
        # non-selective, alpha-and-beta, their combinations, and eye drops (timolol)
        for atc in ("C07AA", "C07AG", "C07BA", "C07CA", "C07DA", "S01ED")
    },
    "J01MA": ("a fluoroquinolone", {
        "myasthenia": "its boxed warning: it may exacerbate muscle weakness in myasthenia "
        "gravis; avoid",
    }),
}  # fmt: skip
"""Drug classes (ATC level 4) with a drug-disease caution of their own, from the AGS Beers
criteria's drug-disease table and the drugs' labels: SIDER lists what a drug was seen to
cause, not what its class is known to worsen (etoricoxib, an NSAID, is not in SIDER)."""

DRUG_CAUTIONS: dict[str, dict[str, str]] = {
    "DB04854": {  # febuxostat
        "heart failure": "its label's boxed warning: more cardiovascular deaths than with "
        "allopurinol in gout with cardiovascular disease (CARES); use it only when allopurinol "
        "fails or cannot be taken",
    },
    "DB01156": {  # bupropion
        "seizures": "it lowers the seizure threshold (label: contraindicated in a seizure "
        "disorder; AGS Beers: avoid)",
    },
    "DB00193": {  # tramadol
        "seizures": "it lowers the seizure threshold (AGS Beers: avoid with a history of seizures)",
    },
}
"""Single drugs with a drug-disease caution their ATC class does not share (febuxostat's
class, M04AA, holds allopurinol), by DrugBank id and :data:`VULNERABLE` group."""


@dataclass(frozen=True)
class Caution:
    """Why a similarly supported alternative should go before a drug, and how strongly.

    Attributes:
        message: the caution, as shown with the drug.
        strong: a guideline, label or class rule says so (AGS Beers, a boxed warning, a
            cross-reactive allergy), or the side effect has a reported frequency; weak when
            SIDER only lists it (allopurinol's "cardiac failure", no frequency).
    """

    message: str
    strong: bool = True


Effect = tuple[str, float | None]
"""A side effect as SIDER names it, and its highest reported frequency (0-1; None: unknown)."""


@dataclass(frozen=True)
class SideEffects:
    """The :data:`VULNERABLE` groups each drug's side effects fall in, and the groups' diseases.

    Attributes:
        by_drug: DrugBank id -> group -> the side effect (its strongest, by frequency).
        groups: disease id -> its group (each heading's MeSH subtree included).
    """

    by_drug: Mapping[str, Mapping[str, Effect]]
    groups: Mapping[str, str]

    def group_of(self, disease_ids: Iterable[str]) -> str | None:
        """The group of a disease given as its equivalent ids, or None."""
        return next((self.groups[d] for d in disease_ids if d in self.groups), None)

    @classmethod
    def from_settings(
        cls,
        disease_of: Callable[[str], str | None],
        narrower: Callable[[str], Iterable[str]],
        settings: Settings | None = None,
    ) -> SideEffects:
        """The bundle's SIDER table, its terms placed in groups (read once per process).

        Args:
            disease_of: a side-effect term -> the disease id it names exactly, or None.
            narrower: a MeSH id -> the ids below it (``DiseaseHierarchy.narrower``).
            settings: where the bundle is.
        """
        settings = settings or get_settings()
        with _LOCK:
            if settings not in _CACHE:
                _CACHE[settings] = cls._read(settings, disease_of, group_index(narrower))
            return _CACHE[settings]

    @classmethod
    def _read(
        cls,
        settings: Settings,
        disease_of: Callable[[str], str | None],
        groups: Mapping[str, str],
    ) -> SideEffects:
        try:
            path = settings.data_file(bundle.SIDE_EFFECTS)
        except DataMissingError as exc:
            log.warning("side effects unavailable: %s", exc)
            return cls({}, groups)
        grouped: dict[str, str | None] = {}
        by_drug: dict[str, dict[str, Effect]] = {}
        with open_text(path) as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                term = (row.get("side_effect") or "").strip()
                if term not in grouped:
                    disease = MEDDRA_TO_MESH.get(term.lower()) or (term and disease_of(term))
                    grouped[term] = groups.get(disease) if disease else None
                group = grouped[term]
                if group is None:
                    continue
                frequency = _frequency(row.get("max_frequency") or "")
                if frequency is not None and frequency < MIN_FREQUENCY:
                    continue
                found = by_drug.setdefault(row["drugbank_id"], {})
                old = found.get(group)
                if old is None or (frequency or 0.0) > (old[1] or 0.0):
                    found[group] = (term, frequency)
        return cls(by_drug, groups)


def group_index(narrower: Callable[[str], Iterable[str]]) -> dict[str, str]:
    """Disease id -> its :data:`VULNERABLE` group, each heading's subtree included.

    Args:
        narrower: a MeSH id -> the ids below it (e.g. ``DiseaseHierarchy.narrower``).
    """
    index: dict[str, str] = {}
    for group, roots in VULNERABLE.items():
        for root in roots:
            for disease in (root, *narrower(root)):
                if disease not in SYMPTOMS:
                    index.setdefault(disease, group)
    return index


def comorbidity_cautions(
    candidates: Iterable[tuple[str, str, str]],
    conditions: Sequence[str],
    names: Mapping[str, str],
    effects: SideEffects,
    equivalents: Callable[[str], Iterable[str]] = lambda d: (d,),
    classes_of: Callable[[str], Iterable[str]] = lambda d: (),
) -> dict[str, Caution]:
    """Per candidate drug, the caution for the patient's conditions it can worsen.

    A caution is strong when a class or drug rule (:data:`CLASS_CAUTIONS`,
    :data:`DRUG_CAUTIONS`) gives it or SIDER reports the side effect's frequency, weak when
    SIDER only lists it.

    Args:
        candidates: ``(drug id, drug name, condition it is proposed for)``.
        conditions: the patient's condition ids.
        names: condition id -> its name.
        effects: the side-effect table.
        equivalents: a disease id -> its equivalent DOID/MeSH ids (itself included).
        classes_of: a drug id -> its classes (``ATC:M01AH``), for :data:`CLASS_CAUTIONS`.
    """

    def group_of(disease: str) -> str | None:
        return effects.group_of(equivalents(disease))

    groups = {c: g for c in conditions if (g := group_of(c))}
    if not groups:
        return {}
    label: dict[str, str] = {}
    proposed: dict[str, set[str]] = {}
    for drug_id, drug, condition in candidates:
        label.setdefault(drug_id, drug)
        proposed.setdefault(drug_id, set()).add(group_of(condition) or condition)
    found = {}
    for drug_id, own in proposed.items():
        open_groups = {c: g for c, g in groups.items() if g not in own and c not in own}
        harms = effects.by_drug.get(drug_id, {})
        hits = [(c, *harms[g]) for c, g in open_groups.items() if g in harms]
        # a class or drug rule holds for the condition the drug is proposed for, too:
        # DrugBank lists ibuprofen for heart failure, which NSAIDs worsen
        ruled = _class_cautions(label[drug_id], classes_of(drug_id), groups, names)
        ruled += _drug_cautions(drug_id, label[drug_id], groups, names)
        messages = ([_caution(label[drug_id], hits, names)] if hits else []) + ruled
        if messages:
            reported = any(frequency is not None for _, _, frequency in hits)
            found[drug_id] = Caution(" ".join(messages), strong=bool(ruled) or reported)
    return found


def _drug_cautions(
    drug_id: str, drug: str, groups: Mapping[str, str], names: Mapping[str, str]
) -> list[str]:
    """The drug's own :data:`DRUG_CAUTIONS` for the open ``groups``."""
    reasons = DRUG_CAUTIONS.get(drug_id, {})
    has = sorted({names.get(c, c) for c, g in groups.items() if g in reasons})
    if not has:
        return []
    why = "; ".join(dict.fromkeys(reasons[g] for g in groups.values() if g in reasons))
    return [
        f"Comorbidity caution: {drug} and the patient's {', '.join(has)}: {why}; prefer an "
        "alternative without this risk."
    ]


def _class_cautions(
    drug: str, classes: Iterable[str], groups: Mapping[str, str], names: Mapping[str, str]
) -> list[str]:
    """The :data:`CLASS_CAUTIONS` of the drug's first listed class for the open ``groups``."""
    for klass in sorted(classes):
        code = klass.removeprefix("ATC:")
        words, reasons = CLASS_CAUTIONS.get(code, ("", {}))
        has = sorted({names.get(c, c) for c, g in groups.items() if g in reasons})
        if has:
            why = "; ".join(dict.fromkeys(reasons[g] for g in groups.values() if g in reasons))
            return [
                f"Comorbidity caution: {drug} is {words} ({code}) and the patient has "
                f"{', '.join(has)}: {why}; prefer an alternative without this risk."
            ]
    return []


def _caution(
    drug: str, hits: Sequence[tuple[str, str, float | None]], names: Mapping[str, str]
) -> str:
    effects = ", ".join(
        f"{term.lower()} ({_share(frequency)})" if frequency else term.lower()
        for _, term, frequency in hits
    )
    has = ", ".join(sorted({names.get(c, c) for c, _, _ in hits}))
    return (
        f"Comorbidity caution: {drug} can cause {effects} (SIDER) and the patient has {has}; "
        "check its label for a contraindication or a dose adjustment, and prefer an "
        "alternative without this risk."
    )


def _frequency(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 < value <= 1.0 else None


def _share(frequency: float) -> str:
    percent = 100 * frequency
    return f"up to {percent:.0f}% of patients" if percent >= 1 else "under 1% of patients"


_LOCK = threading.Lock()
_CACHE: dict[Settings, SideEffects] = {}
