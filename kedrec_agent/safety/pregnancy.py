"""Pregnancy cautions: drugs to avoid in a pregnant patient, or in one who could become pregnant.

The bundle has no pregnancy-safety table (FDA's letter categories were withdrawn in 2015;
the labels' "Pregnancy" sections are free text), so :data:`RULES` lists the drugs and classes
whose labels carry a boxed warning or a contraindication for pregnancy, and those that
guidelines say to avoid or replace in pregnancy, each with its reason and source. A rule
matches a drug by its ATC code (level 4 prefix, ``C09A``), its FDA / MeSH pharmacologic
class name (lisinopril has no ATC code in the bundle but is an "Angiotensin-Converting
Enzyme Inhibitors"), or its DrugBank id.

Two patients are at risk:

* **pregnant** (or planning a pregnancy): every rule applies;
* a **woman who could become pregnant** (female, 12 to 50 years old, not stated pregnant):
  only the rules marked ``childbearing``, the drugs the regulators restrict to when other
  drugs fail, with a pregnancy prevention programme (valproate, oral retinoids). Drugs
  given with a programme as a matter of course (thalidomide and its analogues in myeloma,
  mycophenolate after a transplant, endothelin receptor antagonists in pulmonary arterial
  hypertension) are not cautioned for her: their prescribers run the programme.

As with a comorbidity caution, the finding reorders: a cautioned drug goes behind a
similarly supported alternative without one
(:func:`kedrec_agent.reasoning.ranking.ranked_candidates`) and, if still recommended, is
shown with the caution.

Example:
    >>> tables = DrugTables.from_rows([("DB00678", "ATC:C09CA")])
    >>> found = pregnancy_cautions([("DB00678", "Losartan")], "pregnant", tables)
    >>> found["DB00678"].message.split(":")[0]
    'Pregnancy caution'
    >>> pregnancy_cautions([("DB00678", "Losartan")], "childbearing", tables)
    {}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from kedrec_agent.ranking.tables import DrugTables
from kedrec_agent.safety.comorbidity import Caution

Risk = Literal["pregnant", "childbearing"]
"""Why pregnancy rules apply: the patient is pregnant, or could become pregnant."""

CHILDBEARING_AGES = (12, 50)
"""Ages (inclusive) at which a woman not stated pregnant is taken to be able to become so."""


@dataclass(frozen=True)
class PregnancyRule:
    """Drugs to avoid in pregnancy, and why.

    Attributes:
        what: the drugs in words, as the caution says it ("an ACE inhibitor").
        why: the reason and its source.
        atc: ATC code prefixes (``C09A``) of the drugs.
        classes: FDA established class or MeSH pharmacological action names.
        drugs: DrugBank ids.
        childbearing: it also applies to a woman who could become pregnant.
        strong: a boxed warning, a contraindication or a guideline's "avoid"; weak: a
            guideline prefers other drugs.
        contraindicated: the labels contraindicate it in pregnancy without exception for
            the uses the graph lists (an ACE inhibitor, isotretinoin, an oral
            contraceptive): it is withheld from a pregnant patient, not only cautioned.
    """

    what: str
    why: str
    atc: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    drugs: tuple[str, ...] = ()
    childbearing: bool = False
    strong: bool = True
    contraindicated: bool = False

    def matches(self, drug_id: str, atc_codes: Iterable[str], class_names: Iterable[str]) -> bool:
        """Whether the drug (its id, ATC codes without prefix, class names) falls under it."""
        return (
            drug_id in self.drugs
            or any(code.startswith(self.atc) for code in atc_codes if self.atc)
            or bool(set(self.classes) & set(class_names))
        )


_RAS = (
    "its boxed warning: drugs acting on the renin-angiotensin system cause fetal injury and "
    "death in the second and third trimesters; stop it as soon as pregnancy is detected"
)
_PREVENTION = "a pregnancy prevention programme"

RULES: tuple[PregnancyRule, ...] = (
    PregnancyRule(
        "an ACE inhibitor", _RAS, atc=("C09A", "C09B"), contraindicated=True,
        classes=("Angiotensin-Converting Enzyme Inhibitors",
                 "Angiotensin Converting Enzyme Inhibitor"),
    ),
    PregnancyRule(
        "an angiotensin receptor blocker", _RAS, atc=("C09C", "C09D"), contraindicated=True,
        classes=("Angiotensin II Type 1 Receptor Blockers", "Angiotensin 2 Receptor Blocker"),
    ),
    PregnancyRule(
        "a renin inhibitor", _RAS, atc=("C09X",), classes=("Renin Inhibitor",),
        drugs=("DB09026",), contraindicated=True,  # aliskiren
    ),
    PregnancyRule(
        "a vitamin K antagonist",
        "warfarin embryopathy and fetal bleeding: contraindicated in pregnancy except with a "
        "mechanical heart valve (label); use a heparin",
        atc=("B01AA",), classes=("Vitamin K Antagonist",),
    ),
    PregnancyRule(
        "a statin",
        "labels advise stopping it when pregnancy is recognised (FDA 2021: no longer "
        "contraindicated for every patient, but most should stop)",
        atc=("C10AA", "C10BA", "C10BX"),
        classes=("Hydroxymethylglutaryl-CoA Reductase Inhibitors", "HMG-CoA Reductase Inhibitor"),
    ),
    PregnancyRule(
        "valproate",
        "its boxed warning: major congenital malformations (neural tube defects) and lower IQ; "
        f"in a woman who could become pregnant only when other drugs fail, with {_PREVENTION} "
        "(FDA, EMA/MHRA)",
        drugs=("DB00313",), childbearing=True,  # valproic acid
    ),
    PregnancyRule(
        "an oral retinoid",
        f"contraindicated in pregnancy (severe birth defects): only with {_PREVENTION} (iPLEDGE)",
        # not D10BA: DrugBank also files tretinoin there, mostly a cream
        atc=("D05BB",), childbearing=True, contraindicated=True,
        drugs=("DB00982", "DB00459", "DB00523", "DB00307"),  # isotretinoin ... bexarotene
    ),
    PregnancyRule(
        "a topical retinoid",
        "avoided in pregnancy (AAD acne guideline 2024); tazarotene is contraindicated (label); "
        "azelaic acid or benzoyl peroxide are used instead",
        atc=("D10AD",), drugs=("DB00799", "DB12808"),  # tazarotene, trifarotene
    ),
    PregnancyRule(
        "thalidomide or an analogue",
        f"its boxed warning: embryo-fetal toxicity; only with {_PREVENTION} (REMS)",
        drugs=("DB01041", "DB00480", "DB08910"), contraindicated=True,
    ),
    PregnancyRule(
        "mycophenolate",
        "its boxed warning: first-trimester loss and congenital malformations; only with "
        f"{_PREVENTION} (REMS)",
        drugs=("DB00688", "DB01024"), contraindicated=True,
    ),
    PregnancyRule(
        "an endothelin receptor antagonist or riociguat",
        f"its boxed warning: embryo-fetal toxicity; only with {_PREVENTION} (REMS)",
        atc=("C02KX",), classes=("Endothelin Receptor Antagonist",),
        drugs=("DB00559", "DB06403", "DB08932", "DB08931"), contraindicated=True,
    ),
    PregnancyRule(
        "methotrexate",
        "its boxed warning: embryo-fetal toxicity; contraindicated in pregnancy for a "
        "non-cancer use",
        drugs=("DB00563",),
    ),
    PregnancyRule(
        "leflunomide or teriflunomide",
        "its boxed warning: embryo-fetal toxicity; contraindicated in pregnancy",
        drugs=("DB01097", "DB08880"), contraindicated=True,
    ),
    PregnancyRule(
        "misoprostol",
        "its boxed warning: it can cause abortion and birth defects; contraindicated in "
        "pregnancy for ulcer prevention",
        drugs=("DB00929",),
    ),
    PregnancyRule(
        "ribavirin",
        "its boxed warning: teratogenic; contraindicated in pregnancy",
        drugs=("DB00811",), contraindicated=True,
    ),
    PregnancyRule(
        "an androgen or a 5-alpha-reductase inhibitor",
        "contraindicated in pregnancy: it virilises or feminises the fetus (labels)",
        atc=("G03B", "G04CB", "G03XA"), contraindicated=True,
        drugs=("DB01216", "DB01126", "DB01406"),  # finasteride, dutasteride, danazol
    ),
    PregnancyRule(
        "an estrogen or a contraceptive progestin",
        "contraindicated in known or suspected pregnancy (labels): it treats nothing in "
        "pregnancy and a hormonal contraceptive has no use then",
        atc=("G03A", "G03C"), classes=("Estrogen",), contraindicated=True,
        drugs=("DB00294", "DB00304", "DB00351", "DB00367", "DB00603", "DB00717", "DB00823",
               "DB00957", "DB01395", "DB06713", "DB09123", "DB09389"),
    ),
    PregnancyRule(
        "an ovulation stimulant, anti-estrogen or aromatase inhibitor",
        "contraindicated in pregnancy (labels of clomifene, tamoxifen, letrozole)",
        atc=("G03GB", "L02BA", "L02BG"), contraindicated=True,
    ),
    PregnancyRule(
        "an aldosterone antagonist",
        "antiandrogenic: feminisation of the male fetus in animal studies (label); avoided in "
        "pregnancy",
        drugs=("DB00421",), strong=False,  # spironolactone
    ),
    PregnancyRule(
        "a tetracycline",
        "it discolours the child's teeth and slows bone growth; avoid after the first trimester "
        "(labels)",
        atc=("J01AA",), drugs=("DB12035",),  # sarecycline
    ),
    PregnancyRule(
        "an ergot alkaloid",
        "contraindicated in pregnancy: it contracts the uterus (labels)",
        atc=("N02CA", "G02AB"), contraindicated=True,
    ),
    PregnancyRule(
        "an SGLT2 inhibitor",
        "not recommended in the second and third trimesters: adverse renal effects in animal "
        "studies (labels); insulin is preferred in pregnancy (ADA 2024)",
        atc=("A10BK",), classes=("Sodium-Glucose Cotransporter 2 Inhibitor",),
    ),
    PregnancyRule(
        "an NSAID",
        "FDA 2020: avoid from 20 weeks (fetal renal dysfunction, oligohydramnios) and in the "
        "third trimester (premature closure of the ductus arteriosus); paracetamol is preferred",
        atc=("M01A",),
    ),
    PregnancyRule(
        "an antiepileptic with a high malformation risk",
        "neural tube defects and other malformations (labels); lamotrigine or levetiracetam "
        "are preferred in pregnancy (AAN/AES 2024)",
        drugs=("DB00564", "DB00252", "DB01174", "DB00273"),
        # carbamazepine, phenytoin, phenobarbital, topiramate
    ),
    PregnancyRule(
        "lithium",
        "cardiac malformations (Ebstein's anomaly) after first-trimester exposure (label); a "
        "psychiatrist should weigh it",
        atc=("N05AN",), drugs=("DB01356",),
    ),
    PregnancyRule(
        "methimazole",
        "methimazole embryopathy in the first trimester: propylthiouracil is preferred then "
        "(ATA 2017)",
        drugs=("DB00763", "DB00389"),  # methimazole, carbimazole
    ),
    PregnancyRule(
        "a thiazide diuretic",
        "not started in pregnancy: it lowers plasma volume, with neonatal complications "
        "reported (NICE NG133); labetalol or nifedipine are preferred",
        atc=("C03AA", "C03BA"), classes=("Thiazide Diuretic", "Thiazide-like Diuretic"),
        strong=False,
    ),
)  # fmt: skip
"""The rules, from the drugs' labels (boxed warnings, contraindications) and guidelines."""


_HYPERTENSION = ("MESH:D006973",)
_EPILEPSY = ("MESH:D004827", "MESH:D012640")  # epilepsy, seizures
_DIABETES = ("MESH:D003920",)
_THROMBOSIS = ("MESH:D013927", "MESH:D013923", "MESH:D011655")  # thrombosis, embolism
_PAIN = ("MESH:D010146", "MESH:D020773", "MESH:D005334", "MESH:D010003")
# pain, headache disorders (migraine), fever, osteoarthritis

PREFERRED: dict[str, tuple[str, ...]] = {
    "DB00598": _HYPERTENSION,  # labetalol: ACOG Practice Bulletin 222 (2020), NICE NG133
    "DB01115": _HYPERTENSION,  # nifedipine
    "DB00968": _HYPERTENSION,  # methyldopa
    "DB00555": _EPILEPSY,  # lamotrigine: AAN/AES/SMFM 2024
    "DB01202": _EPILEPSY,  # levetiracetam
    "DB00030": _DIABETES,  # insulin (human): ADA Standards of Care 2024, section 15
    "DB00047": _DIABETES,  # insulin glargine
    "DB00046": _DIABETES,  # insulin lispro
    "DB01306": _DIABETES,  # insulin aspart
    "DB01307": _DIABETES,  # insulin detemir
    "DB09564": _DIABETES,  # insulin degludec
    "DB00550": ("MESH:D006980",),  # propylthiouracil, hyperthyroidism: ATA 2017
    "DB01225": _THROMBOSIS,  # enoxaparin: low-molecular-weight heparin, ACOG PB 196
    "DB06779": _THROMBOSIS,  # dalteparin
    "DB01109": _THROMBOSIS,  # heparin
    "DB00316": _PAIN,  # acetaminophen: ACOG; FDA 2020 (over NSAIDs)
}
"""Drugs guidelines prefer in pregnancy, and for which conditions (MeSH headings, each with
its subtree): where the graph lists one for such a condition it goes first among the
condition's indicated drugs. DrugBank lists lamotrigine for schizophrenia and dalteparin for
chronic kidney failure too; the preference holds only for the guideline's conditions."""


def preferred_in_pregnancy(
    drug_id: str, condition: str, risk: Risk | None, under: Callable[[str, str], bool]
) -> bool:
    """Whether guidelines prefer a drug for a pregnant patient's condition (:data:`PREFERRED`).

    Args:
        drug_id: the DrugBank id.
        condition: the condition it is a candidate for.
        risk: :func:`pregnancy_risk` of the patient.
        under: ``(disease, ancestor) -> bool`` (see :func:`implies_pregnancy`).
    """
    roots = PREFERRED.get(drug_id, ())
    return risk == "pregnant" and any(under(condition, root) for root in roots)


def pregnancy_risk(pregnant: bool | None, sex: str | None, age: int | None) -> Risk | None:
    """Which pregnancy rules apply to a patient: all, the childbearing ones, or none.

    Args:
        pregnant: stated pregnant (or planning a pregnancy); ``False``: stated not
            pregnant (she may still become pregnant); ``None``: not stated.
        sex: ``"female"`` / ``"male"`` / unknown.
        age: years, if known.

    Example:
        >>> pregnancy_risk(None, "female", 30), pregnancy_risk(None, "female", 70)
        ('childbearing', None)
    """
    if pregnant:
        return "pregnant"
    low, high = CHILDBEARING_AGES
    if sex == "female" and age is not None and low <= age <= high:
        return "childbearing"
    return None


PREGNANCY_COMPLICATIONS = "MESH:D011248"
PUERPERAL_DISORDERS = "MESH:D011644"


def implies_pregnancy(
    conditions: Iterable[str],
    under: Callable[[str, str], bool],
) -> bool:
    """Whether a condition is a complication of an ongoing pregnancy (gestational diabetes).

    Args:
        conditions: the patient's condition ids.
        under: ``(disease, ancestor) -> bool``, e.g. a :class:`~kedrec_agent.kg.hierarchy.
            DiseaseHierarchy`'s ``under`` over the disease's equivalent ids.
    """
    return any(
        under(c, PREGNANCY_COMPLICATIONS) and not under(c, PUERPERAL_DISORDERS) for c in conditions
    )


def rules_for(drug_id: str, tables: DrugTables, risk: Risk) -> list[PregnancyRule]:
    """The :data:`RULES` that apply to a drug for a patient at ``risk``."""
    every = tables.every.get(drug_id, frozenset())
    atc = [c.removeprefix("ATC:") for c in every if c.startswith("ATC:")]
    names = tables.class_names.get(drug_id, ())
    return [
        rule
        for rule in RULES
        if (risk == "pregnant" or rule.childbearing) and rule.matches(drug_id, atc, names)
    ]


def to_avoid(drug_id: str, risk: Risk | None, tables: DrugTables) -> bool:
    """Whether a strong rule names the drug for a patient at ``risk``.

    A strong rule is a boxed warning, a contraindication or a guideline's "avoid".
    """
    return risk is not None and any(r.strong for r in rules_for(drug_id, tables, risk))


def contraindication(drug_id: str, name: str, risk: Risk | None, tables: DrugTables) -> str | None:
    """Why a drug is withheld from a pregnant patient (a ``contraindicated`` rule), or None.

    Example:
        >>> tables = DrugTables.from_rows([("DB00678", "ATC:C09CA")])
        >>> contraindication("DB00678", "Losartan", "pregnant", tables)[:47]
        'Losartan was withheld: contraindicated in pregn'
    """
    if risk != "pregnant":
        return None
    rules = [r for r in rules_for(drug_id, tables, risk) if r.contraindicated]
    if not rules:
        return None
    why = "; ".join(dict.fromkeys(r.why for r in rules))
    return f"{name} was withheld: contraindicated in pregnancy ({rules[0].what}: {why})."


def pregnancy_cautions(
    drugs: Iterable[tuple[str, str]], risk: Risk | None, tables: DrugTables
) -> dict[str, Caution]:
    """Per drug, the caution for a patient at ``risk`` (none when ``risk`` is None).

    Args:
        drugs: ``(DrugBank id, name)`` of the candidates (or current medications).
        risk: :func:`pregnancy_risk` of the patient.
        tables: the drugs' ATC codes and pharmacologic classes.
    """
    if risk is None:
        return {}
    who = "the patient is pregnant" if risk == "pregnant" else "she could become pregnant"
    found = {}
    for drug_id, name in drugs:
        rules = rules_for(drug_id, tables, risk)
        if not rules:
            continue
        kinds = [r.what for r in rules if r.what.startswith(("a ", "an "))]  # classes, not names
        what = f"{name} is {' and '.join(dict.fromkeys(kinds))}" if kinds else name
        why = "; ".join(dict.fromkeys(r.why for r in rules))
        found[drug_id] = Caution(
            f"Pregnancy caution: {what} and {who}: {why}; prefer an alternative without this risk.",
            strong=any(r.strong for r in rules),
        )
    return found
