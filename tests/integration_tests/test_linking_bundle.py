"""Entity linking on the real data bundle (KEDREC_DATA_DIR): names, ids, notes, timings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kedrec_agent.agent.patient import NotAMedicationError, link_patient, link_value
from kedrec_agent.config import Settings
from kedrec_agent.data.bundle import LINKING_FILES, MIMIC_DEMO_DIR
from kedrec_agent.errors import UnknownEntityError
from kedrec_agent.linking import Linker
from kedrec_agent.patients import PatientInput, from_mimic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real bundle, with a fresh home so that the index is built here."""
    data_dir = Settings.from_env().data_dir
    missing = [f for f in LINKING_FILES if not (data_dir / f).is_file()]
    if missing:
        pytest.skip(f"data bundle not found or incomplete at {data_dir} (missing {missing[0]})")
    return Settings(data_dir=data_dir, home=tmp_path_factory.mktemp("linking-home"))


@pytest.fixture(scope="module")
def build_seconds(settings: Settings) -> float:
    started = time.perf_counter()
    Linker.build_index(settings)
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def linker(settings: Settings, build_seconds: float) -> Linker:
    return Linker.from_settings(settings)


def test_build_and_load_times(settings: Settings, build_seconds: float) -> None:
    assert build_seconds < 15, f"index build took {build_seconds:.1f} s"
    started = time.perf_counter()
    path = Linker.build_index(settings)
    assert time.perf_counter() - started < 0.5  # current: only the stamp is read
    started = time.perf_counter()
    Linker.from_settings(settings)
    load = time.perf_counter() - started
    assert load < 2, f"index load took {load:.2f} s"
    assert path.stat().st_size > 1_000_000


def test_fuzzy_queries_are_fast(linker: Linker) -> None:
    queries = ["imatinb", "hypertenion", "chronic myelod leukemia", "xyzzy", "atorvastatn"]
    linker.candidates("warm up")
    started = time.perf_counter()
    for query in queries:
        linker.candidates(query)
    per_query = (time.perf_counter() - started) / len(queries)
    assert per_query < 0.25, f"{per_query * 1000:.0f} ms per fuzzy query"


@pytest.mark.parametrize(
    "text", ["chronic myeloid leukemia", "Chronic Myelogenous Leukaemia", "DOID:8552", "D015464"]
)
def test_cml(linker: Linker, text: str) -> None:
    entity = linker.link_disease(text)
    assert entity.canonical == "MESH:D015464"
    assert "DOID:8552" in entity.equivalents and "MESH:D015464" in entity.equivalents


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("type 2 diabetes", "MESH:D003924"),
        ("Diabetes Mellitus, Type 2", "MESH:D003924"),
        ("DOID:9352", "MESH:D003924"),
        ("hypertension", "MESH:D006973"),
        ("Parkinson's disease", "MESH:D010300"),
        ("heart attack", "MESH:D009203"),
        ("acute renal failure", "MESH:D058186"),  # Acute Kidney Injury, not the heading
        ("renal failure", "MESH:D051437"),
    ],
)
def test_diseases(linker: Linker, text: str, canonical: str) -> None:
    entity = linker.link_disease(text)
    assert entity.canonical == canonical
    assert entity.score == 100.0


def test_doid_resolves_to_its_mesh_canonical(linker: Linker) -> None:
    entity = linker.link_disease("DOID:9352")
    assert entity.id == "DOID:9352"
    assert entity.canonical == "MESH:D003924"
    assert linker.disease("DOID:9352").canonical == "MESH:D003924"


@pytest.mark.parametrize(
    ("text", "drug"),
    [
        ("metformin", "DB00331"),
        ("Aspirin", "DB00945"),  # a synonym of Acetylsalicylic acid
        ("paracetamol", "DB00316"),
        ("albuterol", "DB01001"),  # not (-)-albuterol, which normalises the same
        ("Metformin HCl ER", "DB00331"),
        ("DB00619", "DB00619"),
    ],
)
def test_drugs(linker: Linker, text: str, drug: str) -> None:
    assert linker.link_drug(text).id == drug


def test_typos_link_with_a_score(linker: Linker) -> None:
    for text, drug in [("imatinb", "DB00619"), ("atorvastatn", "DB01076")]:
        entity = linker.link_drug(text)
        assert entity.id == drug and linker.accept_score <= entity.score < 100
    assert linker.link_disease("hypertenion").canonical == "MESH:D006973"


def test_icd9_titles(linker: Linker) -> None:
    diabetes = linker.link_disease("ICD9:25000")
    assert diabetes.id in {"MESH:D003920", "MESH:D003924"}
    assert "Diabetes" in diabetes.name
    assert linker.link_disease("428.0").canonical == "MESH:D006333"  # heart failure


@pytest.mark.parametrize(
    ("codes", "canonical"),
    [
        # MIMIC-III's 2765 is the category 276.5 (volume depletion; the table lists 27650
        # "unspecified", which names no disease, then 27651 Dehydration)
        (("ICD9:2765", "ICD9:276.5", "276.5", "icd-9-cm: 276.5"), "MESH:D003681"),
        (("ICD9:4019", "ICD9:401.9", "401.9", "4019"), "MESH:D000075222"),
        # V code: personal history of venous thrombosis and embolism
        (("ICD9:V1251", "ICD9:V12.51", "V12.51", "V1251"), "MESH:D020246"),
        # E code: accidental cut, puncture, perforation or hemorrhage during surgery
        (("ICD9:E8700", "ICD9:E870.0", "E870.0", "E8700"), "MESH:D006470"),
    ],
)
def test_icd9_codes_with_or_without_dot_link_the_same(
    linker: Linker, codes: tuple[str, ...], canonical: str
) -> None:
    assert {linker.link_disease(code).canonical for code in codes} == {canonical}


@pytest.mark.parametrize(
    "codes", [("ICD9:V4581", "ICD9:V45.81", "V45.81", "V4581"), ("ICD9:E8781", "E878.1")]
)
def test_unlinkable_v_and_e_codes_fail_alike(linker: Linker, codes: tuple[str, ...]) -> None:
    for code in codes:  # "Aortocoronary bypass status", a surgical complication's cause
        with pytest.raises(UnknownEntityError):
            linker.link_disease(code)
    assert len({tuple(linker.icd9_titles(code)) for code in codes}) == 1


def test_family_history_codes_do_not_link(linker: Linker) -> None:
    with pytest.raises(UnknownEntityError):
        linker.link_disease("ICD9:V16.42")  # Family history of malignant neoplasm of prostate
    assert linker.link_disease("ICD9:V10.46").canonical.startswith("MESH:")  # personal history


def test_mimic_admission_100375_links_its_volume_depletion_code(
    settings: Settings, linker: Linker
) -> None:
    patient = from_mimic(100375, mimic_dir=settings.data_dir / MIMIC_DEMO_DIR)
    assert "ICD9:2765" in patient.conditions
    linked = link_patient(linker, patient)
    assert "MESH:D003681" in linked.conditions  # Dehydration
    assert [value for _, value, _ in linked.unlinked if value == "ICD9:2765"] == []


@pytest.mark.parametrize(
    ("text", "drug"),
    [
        ("ferrous sulfate", "DB13257"),  # Ferrous sulfate anhydrous; Iron is DB01592
        ("Ferrous Sulfate (Liquid)", "DB13257"),
        ("ferrous sulfate 325 MG Oral Tablet", "DB13257"),
        ("ferrous sulphate", "DB13257"),
        ("metformin hydrochloride", "DB00331"),
        ("amlodipine besylate", "DB00381"),
        ("potassium chloride", "DB00761"),
        ("clopidogrel bisulfate", "DB00758"),
        ("Morphine Sulfate (2-4mg)", "DB00295"),  # not "Sulfate (2" -> Sulfate ion
        ("lithium", "DB01356"),  # Lithium cation is the drug
        ("iron", "DB01592"),
    ],
)
def test_salt_forms_link_the_drug_never_the_ion(linker: Linker, text: str, drug: str) -> None:
    entity = link_value(linker, text, ("drug",), medication=True)
    assert entity.id == drug
    assert entity.id not in {"DB14546", "DB14547"}  # Sulfate ion, Chloride ion


@pytest.mark.parametrize(
    "text",
    ["Sulfate ion", "Chloride ion", "Sodium", "Water", "Sterile Water For Irrigation", "Lactose"],
)
def test_ions_elements_and_excipients_are_unrecognised_medications(
    linker: Linker, text: str
) -> None:
    with pytest.raises(UnknownEntityError):
        link_value(linker, text, ("drug",), medication=True)
    linked = link_patient(linker, PatientInput(conditions=["hypertension"], medications=[text]))
    assert linked.medications == [] and [v for _, v, _ in linked.unlinked] == [text]


def test_an_excipient_allergy_is_kept(linker: Linker) -> None:
    with pytest.raises(NotAMedicationError):
        link_value(linker, "Lactose", ("drug",), medication=True)
    linked = link_patient(linker, PatientInput(conditions=["hypertension"], allergies=["lactose"]))
    assert linked.allergies == ["DB04465"]


def test_salt_forms_and_ions_in_a_note(linker: Linker) -> None:
    m = linker.extract(
        "HTN. Meds: morphine sulfate, ferrous sulfate 325 mg, sterile water, amlodipine "
        "besylate. Allergic to lactose."
    )
    medications = [d.entity.id for d in m.medications]
    assert medications == ["DB00295", "DB13257", "DB00381"]
    assert [a.entity.id for a in m.allergies] == ["DB04465"]


def test_unknown_names_list_close_ones(linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        linker.link_disease("type 3 diabetes")
    assert any("MESH:D003924" in s for s in caught.value.suggestions)
    with pytest.raises(UnknownEntityError) as caught:
        linker.link_drug("xyzzyq")
    assert caught.value.kind == "drug"


def test_a_mixed_note(linker: Linker) -> None:
    note = (
        "72 yo F with HTN, type 2 diabetes and chronic myeloid leukaemia. "
        "Meds: metformin 500 mg BID, imatinib, atorvastatin. Not on warfarin. "
        "Allergies: penicillin, sulfa. Denies asthma. Family history of breast cancer. "
        "Temp 98.6 F, glucose 180."
    )
    m = linker.extract(note)
    conditions = {c.entity.canonical: c.negated for c in m.conditions}
    assert conditions == {
        "MESH:D006973": False,
        "MESH:D003924": False,
        "MESH:D015464": False,
        "MESH:D001249": True,
    }
    medications = {d.entity.id: d.negated for d in m.medications}
    assert medications == {"DB00331": False, "DB00619": False, "DB01076": False, "DB00682": True}
    assert [a.entity.name for a in m.allergies] == ["Penicillins", "Sulfonamides"]
    assert (m.age, m.sex, m.no_known_allergies) == (72, "female", False)


def test_index_lives_in_the_cache_dir(settings: Settings, linker: Linker) -> None:
    path = Linker.build_index(settings)
    assert path.parent == settings.cache_dir
    assert Path(path).is_file()


def test_a_condition_keeps_the_name_it_was_linked_by(linker: Linker) -> None:
    # "depression" is MeSH's Depressive Disorder; a cross reference joins it to Adjustment
    # Disorders, whose id is the group's canonical key. The answer must not say the latter.
    linked = link_patient(
        linker,
        PatientInput(text="34-year-old woman with epilepsy and depression", conditions=["gout"]),
    )
    (depression,) = [c for c in linked.conditions if linked.names[c] == "Depressive Disorder"]
    assert linker.name_of(depression) == "Adjustment Disorders"
    assert set(linked.names) == set(linked.conditions)
    assert "Gout" in linked.names.values()  # a structured value too
