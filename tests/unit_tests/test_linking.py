"""Entity linking on the tiny bundle: normalisation, ids, equivalences, fuzzy, errors, cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedrec_agent.agent.patient import NotAMedicationError, link_patient, link_value
from kedrec_agent.config import Settings
from kedrec_agent.data import bundle
from kedrec_agent.errors import InvalidInputError, UnknownEntityError
from kedrec_agent.linking import LinkedEntity, Linker, get_linker
from kedrec_agent.linking.forms import inactive_reason, parent_keys, salt_free, without_hydrate
from kedrec_agent.linking.icd9 import dotted, parse_icd9
from kedrec_agent.linking.normalize import name_variants, normalize, spans
from kedrec_agent.linking.vocabulary import index_path
from kedrec_agent.patients import PatientInput
from tests.conftest import FIXTURE_BUNDLE

# Rows of the real DrugBank vocabulary and MIMIC-III D_ICD_DIAGNOSES (synonyms trimmed), for
# bundle copies that need a salt, an ion, an excipient or an ICD-9 code the tiny bundle lacks.
FORM_DRUGS = (
    "DB13257,DBSALT000084,Ferrous sulfate anhydrous,7720-78-7,2IDP3X9OUD,"
    "iron sulfate (1:1) | iron(2+) sulfate (anhydrous) | iron(II) sulfate,",
    'DB01592,"",Iron,7439-89-6,E1UOL152H7,Carbonyl iron | Ferrum | Reduced iron,',
    'DB14546,"",Sulfate ion,14808-79-8,7IS9N8KPMG,Sulfate | Sulfate dianion | Sulfate(2-),',
    'DB14547,"",Chloride ion,16887-00-6,Q32ZN48698,Chloride | Chloride (ion) | Chloride(1-),',
    'DB14516,"",Sodium cation,17341-25-2,LYR4M0NH37,Sodium (ion) | Sodium ion | sodium(1+),',
    'DB09145,"",Water,7732-18-5,059QF0KO0R,agua | Purified water | Sterile water,',
    'DB04465,EXPT02005,Lactose,63-42-3,3SY5LH9PMK,"",',
    "DB00381,APRD00520,Amlodipine,88150-42-9,1J444QC288,Amlodipine | Amlodipino,",
    "DB00761,APRD01322,Potassium chloride,7447-40-7,660YQ98I10,KCl | Potassium chloride,",
    'DB01356,"",Lithium cation,7439-93-2,8H8Z5UER66,"Li(+) | Lithium ion | Lithium, ion",',
    'DB09141,"",Protamine sulfate,9009-65-8,0DE9724IHC,Protamine sulfate,',
)
FORM_ICD9 = (
    "13324,V1046,Hx-prostatic malignancy,Personal history of malignant neoplasm of prostate",
    "10109,V1642,Fm hx prostate malig,Family history of malignant neoplasm of prostate",
    '13421,E8781,Abn react-artif implant,"Surgical operation with implant of artificial '
    "internal device causing abnormal patient reaction, or later complication,without "
    'mention of misadventure at time of operation"',
    "8959,78001,Coma,Coma",
    "8969,7804,Dizziness and giddiness,Dizziness and giddiness",
    "13873,78841,Urinary frequency,Urinary frequency",
    "13874,78842,Polyuria,Polyuria",
    "13875,78843,Nocturia,Nocturia",
)


def bundle_with_forms(folder: Path) -> Settings:
    """A copy of the tiny bundle (in ``folder``) with :data:`FORM_DRUGS` and :data:`FORM_ICD9`."""
    data = folder / "data"
    shutil.copytree(FIXTURE_BUNDLE, data)
    for relative, rows in (
        (bundle.DRUGBANK_VOCABULARY, FORM_DRUGS),
        (bundle.ICD9_DIAGNOSES, FORM_ICD9),
    ):
        with (data / relative).open("a", encoding="utf-8") as handle:
            handle.writelines(row + "\n" for row in rows)
    return Settings(data_dir=data, home=folder / "home")


@pytest.fixture(scope="module")
def forms_linker(tmp_path_factory: pytest.TempPathFactory) -> Linker:
    return Linker.from_settings(bundle_with_forms(tmp_path_factory.mktemp("forms")))


# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Penicillins", "penicillin"),
        ("LEUKEMIAS", "leukemia"),
        ("therapies", "therapy"),
        ("Crohn's disease", "Crohn disease"),
        ("Diabetes Mellitus, Type II", "diabetes mellitus type 2"),
        ("chronic myeloid leukaemia", "Chronic Myeloid Leukemia"),
        ("Sjögren", "sjogren"),
        ("BCR-ABL", "bcr abl"),
    ],
)
def test_normalize_folds_case_punctuation_plurals(left: str, right: str) -> None:
    assert normalize(left) == normalize(right)


@pytest.mark.parametrize("word", ["mellitus", "psoriasis", "abscess", "virus"])
def test_normalize_keeps_words_that_only_look_plural(word: str) -> None:
    assert normalize(word) == word


def test_comma_inverted_mesh_heading_reads_naturally() -> None:
    variants = name_variants("Leukemia, Myelogenous, Chronic, BCR-ABL Positive")
    assert normalize(variants[1]) == normalize("BCR-ABL positive chronic myelogenous leukemia")
    assert name_variants("Imatinib") == ["Imatinib"]


def test_spans_index_the_original_text() -> None:
    text = "  Crème-brûlée's Type-2  "
    for token, start, end in spans(text):
        assert normalize(text[start:end]).split().count(token) >= 1


# --- ids and exact names ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Imatinib", "IMATINIB", "imatinib.", "  imatinib ", "DB00619"])
def test_drug_case_punctuation_and_id(tiny_linker: Linker, text: str) -> None:
    entity = tiny_linker.link_drug(text)
    assert (entity.id, entity.kind, entity.score) == ("DB00619", "drug", 100.0)
    assert entity.canonical == "DB00619" and entity.equivalents == ("DB00619",)
    assert entity.drkg_entity == "Compound::DB00619"


def test_synonym_links_to_common_name(tiny_linker: Linker) -> None:
    entity = tiny_linker.link_drug("aspirin")
    assert entity.id == "DB00945"
    assert entity.name == "Acetylsalicylic acid"
    assert entity.matched == "Aspirin"


@pytest.mark.parametrize(
    ("code", "drug"), [("50-78-2", "DB00945"), ("r16co5y76e", "DB00945"), ("81-81-2", "DB00682")]
)
def test_cas_and_unii_codes(tiny_linker: Linker, code: str, drug: str) -> None:
    assert tiny_linker.link_drug(code).id == drug


@pytest.mark.parametrize("text", ["warfarin sodium", "Metformin HCl", "metformin hydrochloride ER"])
def test_salt_and_release_words_are_ignored(tiny_linker: Linker, text: str) -> None:
    assert tiny_linker.link_drug(text).score == 100.0
    assert tiny_linker.link_drug(text).id in {"DB00682", "DB00331"}


def test_plural_and_inverted_mesh_names(tiny_linker: Linker) -> None:
    substance = tiny_linker.link("penicillin", "substance")
    assert (substance.id, substance.kind) == ("MESH:D010406", "substance")
    assert substance.drkg_entity == "Substance::MESH:D010406"
    assert tiny_linker.link_disease("type 2 diabetes mellitus").canonical == "MESH:D003924"
    assert tiny_linker.link_disease("Diabetes Mellitus, Type 2").canonical == "MESH:D003924"
    assert tiny_linker.link_disease("Diabetes mellitus type II").canonical == "MESH:D003924"
    cml = tiny_linker.link_disease("BCR-ABL positive chronic myelogenous leukemia")
    assert cml.canonical == "MESH:D015464"


def test_possessive_names(tiny_linker: Linker) -> None:
    for text in ("Barrett's esophagus", "Barretts Esophagus", "barrett esophagus"):
        assert tiny_linker.link_disease(text).canonical == "MESH:D001471"


@pytest.mark.parametrize("text", ["MESH:D015464", "D015464", "mesh:d015464", "DOID:8552"])
def test_doid_and_mesh_resolve_to_one_concept(tiny_linker: Linker, text: str) -> None:
    entity = tiny_linker.link_disease(text)
    assert entity.canonical == "MESH:D015464"
    assert entity.equivalents == ("DOID:8552", "MESH:D015464")
    assert entity.drkg_entity == f"Disease::{entity.id}"
    concept = tiny_linker.disease(text)
    assert concept.canonical == "MESH:D015464"
    assert concept.equivalents == frozenset({"MESH:D015464", "DOID:8552"})


def test_doid_name_and_mesh_name_give_the_same_concept(tiny_linker: Linker) -> None:
    by_doid = tiny_linker.link_disease("DOID:9352")
    by_name = tiny_linker.link_disease("type 2 diabetes")
    assert by_doid.id == "DOID:9352"
    assert by_doid.canonical == by_name.canonical == "MESH:D003924"
    assert by_doid.equivalents == by_name.equivalents == ("DOID:9352", "MESH:D003924")


def test_disease_rejects_what_is_not_a_disease_id(tiny_linker: Linker) -> None:
    with pytest.raises(InvalidInputError):
        tiny_linker.disease("DB00619")
    lonely = tiny_linker.disease("D009369")  # Neoplasms: no cross reference in the slice
    assert lonely.canonical == "MESH:D009369" and lonely.equivalents == {"MESH:D009369"}


def test_name_of(tiny_linker: Linker) -> None:
    assert tiny_linker.name_of("DB00619") == "Imatinib"
    assert tiny_linker.name_of("D003924") == "Diabetes Mellitus, Type 2"
    assert tiny_linker.name_of("MESH:D010406") == "Penicillins"
    assert tiny_linker.name_of("DOID:9352") == "type 2 diabetes mellitus"
    assert tiny_linker.name_of("DB99999") is None


@pytest.mark.parametrize("code", ["ICD9:4019", "401.9", "4019", "icd-9: 401.9"])
def test_icd9_code_links_through_its_title(tiny_linker: Linker, code: str) -> None:
    entity = tiny_linker.link_disease(code)  # "Unspecified essential hypertension"
    assert entity.canonical == "MESH:D006973"
    assert "4019" in entity.matched


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ICD9:2765", "2765"),
        ("ICD9:276.5", "2765"),
        ("276.5", "2765"),
        ("icd-9-cm: 276.5", "2765"),
        ("ICD9:25000", "25000"),
        ("250.00", "25000"),
        ("ICD9:38.9", "0389"),  # a prefixed code that lost its leading zero
        ("ICD9:0389", "0389"),
        ("V45.81", "V4581"),
        ("V4581", "V4581"),
        ("ICD9:v45.81", "V4581"),
        ("ICD9:V4.5", "V045"),
        ("V08", "V08"),
        ("E878.1", "E8781"),
        ("E8781", "E8781"),
        ("ICD9:E878.1", "E8781"),
    ],
)
def test_icd9_codes_are_read_with_or_without_dot_and_prefix(text: str, key: str) -> None:
    code = parse_icd9(text)
    assert code is not None and code.key == key
    assert code.explicit == (text.upper().startswith("ICD") or "." in text)


@pytest.mark.parametrize(
    "text",
    [
        *("38.9", "ICD9:38", "12", "2765.1", "276.512", "V45.811", "E878.12", "E87.8", "V4.5"),
        *("1234567", "ICD9:", "ICD9: hypertension", "DB00619", "imatinib", "401.9 mg"),
    ],
)
def test_what_is_no_icd9_code(text: str) -> None:
    assert parse_icd9(text) is None


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("2765", "276.5"),
        ("25000", "250.00"),
        ("V4581", "V45.81"),
        ("E8781", "E878.1"),
        ("401", "401"),
    ],
)
def test_icd9_dot_goes_after_3_characters_or_4_for_e_codes(key: str, written: str) -> None:
    assert dotted(key) == written
    assert parse_icd9(f"ICD9:{written}") == parse_icd9(f"ICD9:{key}")


@pytest.mark.parametrize(
    "code", ["ICD9:250", "ICD9:250.0", "250.0", "ICD9:25000", "ICD9:250.00", "250.00", "25000"]
)
def test_icd9_with_or_without_dot_links_the_same(tiny_linker: Linker, code: str) -> None:
    assert tiny_linker.link_disease(code) == tiny_linker.link_disease("ICD9:25000")


@pytest.mark.parametrize("code", ["ICD9:V5861", "ICD9:V58.61", "V58.61", "V5861", "icd9 v58.61"])
def test_an_unlinkable_v_code_fails_the_same_way_written_any_way(
    tiny_linker: Linker, code: str
) -> None:
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease(code)
    assert tiny_linker.icd9_titles(code) == [
        ("V58.61", "Long-term (current) use of anticoagulants")
    ]


@pytest.mark.parametrize("code", ["ICD9:V10.46", "ICD9:V1046", "V10.46", "V1046"])
def test_v_code_with_or_without_dot(forms_linker: Linker, code: str) -> None:
    # "Personal history of malignant neoplasm of prostate"
    assert forms_linker.link_disease(code).canonical == "MESH:D009369"


@pytest.mark.parametrize("code", ["ICD9:E878.1", "ICD9:E8781", "E878.1", "E8781"])
def test_e_code_with_or_without_dot(forms_linker: Linker, code: str) -> None:
    with pytest.raises(UnknownEntityError):  # an external cause: no disease in its title
        forms_linker.link_disease(code)
    ((written, title),) = forms_linker.icd9_titles(code)
    assert written == "E878.1" and title.startswith("Surgical operation with implant")


def test_family_history_codes_are_not_the_patients_disease(forms_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError):
        forms_linker.link_disease("ICD9:V16.42")  # Family history of malignant neoplasm of ...


@pytest.mark.parametrize("code", ["ICD9:7884", "ICD9:788.4", "788.4"])
def test_icd9_category_links_through_a_later_sub_code_that_is_a_disease(
    forms_linker: Linker, code: str
) -> None:
    # 78841 "Urinary frequency" names nothing in the tiny bundle; 78842 is "Polyuria"
    entity = forms_linker.link_disease(code)
    assert entity.name == "Polyuria" and entity.matched == "ICD9:78842 Polyuria"


@pytest.mark.parametrize("code", ["ICD9:780", "ICD9:780.", "780", "7884"])
def test_icd9_category_never_links_through_a_name_inside_a_later_title(
    forms_linker: Linker, code: str
) -> None:
    # 78001 Coma names nothing here; 7804 "Dizziness and giddiness" is more than Dizziness.
    # "780." is no code (no digit after the dot); bare "780" and "7884" are no listed codes.
    with pytest.raises(UnknownEntityError):
        forms_linker.link_disease(code)


def test_icd9_category_and_unlinkable_codes(tiny_linker: Linker) -> None:
    assert tiny_linker.link_disease("ICD9:250").canonical in {"MESH:D003920", "MESH:D003924"}
    assert tiny_linker.link_disease("ICD9:20510").canonical == "MESH:D015464"
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("ICD9:V5861")  # "Long-term (current) use of anticoagulants"
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("ICD9:99999")


# --- salt, hydrate and mineral forms; ions and excipients --------------------------------


@pytest.mark.parametrize(
    ("text", "drug"),
    [
        ("ferrous sulfate", "DB13257"),  # "Ferrous sulfate anhydrous", less its hydrate word
        ("Ferrous Sulfate", "DB13257"),
        ("ferrous sulphate", "DB13257"),
        ("iron(II) sulfate", "DB13257"),
        ("ferrous fumarate", "DB01592"),  # no such name here: the mineral form is iron
        ("ferric chloride", "DB01592"),
        ("amlodipine besylate", "DB00381"),
        ("Amlodipine Besilate", "DB00381"),
        ("metformin hydrochloride", "DB00331"),
        ("potassium chloride", "DB00761"),  # a DrugBank name: the salt itself
        ("warfarin sodium", "DB00682"),
        ("ampicillin trihydrate", "DB00415"),
        ("lithium ion", "DB01356"),  # Lithium cation: an ion that is the drug
    ],
)
def test_salt_hydrate_and_mineral_forms_link_the_drug(
    forms_linker: Linker, text: str, drug: str
) -> None:
    entity = forms_linker.link_drug(text)
    assert (entity.id, entity.score) == (drug, 100.0)
    assert link_value(forms_linker, text, ("drug",), medication=True).id == drug


def test_ferrous_sulfate_never_links_to_the_sulfate_ion(forms_linker: Linker) -> None:
    for text in (
        "ferrous sulfate",
        "Ferrous Sulfate 325 MG Oral Tablet",
        "ferrous sulfate (liquid)",
    ):
        assert link_value(forms_linker, text, ("drug",), medication=True).id == "DB13257"
    note = forms_linker.extract("Meds: ferrous sulfate 325 mg daily.")
    assert [m.entity.id for m in note.medications] == ["DB13257"]


@pytest.mark.parametrize(
    "text", ["sodium sulfate", "sulfate sodium", "chloride hcl", "ergotamine sulfate"]
)
def test_a_salt_word_alone_never_decides_the_drug(forms_linker: Linker, text: str) -> None:
    # "ergotamine sulfate" is 91 % like "protamine sulfate", but ergotamine is not protamine
    with pytest.raises(UnknownEntityError):
        forms_linker.link_drug(text)
    assert all(c.score < forms_linker.accept_score for c in forms_linker.candidates(text, "drug"))


def test_a_typo_in_a_salt_form_is_accepted_through_its_parent(forms_linker: Linker) -> None:
    entity = forms_linker.link_drug("amlodipin besylate")
    assert entity.id == "DB00381" and forms_linker.accept_score <= entity.score < 100


@pytest.mark.parametrize(
    ("drug", "reason"),
    [
        ("DB14546", "an ion"),  # Sulfate ion
        ("DB14547", "an ion"),  # Chloride ion
        ("DB14516", "an ion"),  # Sodium cation
        ("DB09145", "an excipient"),  # Water
        ("DB04465", "an excipient"),  # Lactose
        ("DB01356", None),  # Lithium cation: the drug itself
        ("DB01592", None),  # Iron
        ("DB13257", None),
        ("DB00331", None),
        ("MESH:D003924", None),
    ],
)
def test_ions_elements_and_excipients_are_no_medication(
    forms_linker: Linker, drug: str, reason: str | None
) -> None:
    assert forms_linker.inactive_reason(drug) == reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        *(("Sulfate ion", "an ion"), ("Chloride ions", "an ion"), ("Potassium cation", "an ion")),
        *(("Sodium", "an element"), ("Chlorine", "an element"), ("Water", "an excipient")),
        *(("Lactose monohydrate", "an excipient"), ("Magnesium stearate", "an excipient")),
        *(("Lithium cation", None), ("Ferric cation", None), ("Gold cation (1+)", None)),
        *(
            ("Iron", None),
            ("Potassium", None),
            ("Potassium chloride", None),
            ("Sulfasalazine", None),
        ),
    ],
)
def test_inactive_reason_of_names(name: str, reason: str | None) -> None:
    assert inactive_reason(name) == reason


def test_form_word_helpers() -> None:
    assert without_hydrate("Ferrous sulfate anhydrous") == "Ferrous sulfate"
    assert without_hydrate("iron(2+) sulfate (anhydrous)") == "iron(2+) sulfate"
    assert without_hydrate("Anhydrous dextrose") == "dextrose"
    assert without_hydrate("Sodium hydrate") is None  # sodium hydroxide, not a hydrate form
    assert without_hydrate("Anhydrous") is None
    assert list(parent_keys("ferrous sulfate")) == ["ferrous", "iron"]
    assert list(parent_keys("metformin hcl er")) == ["metformin hcl", "metformin"]
    assert list(parent_keys("hydrocortisone sodium succinate")) == [
        "hydrocortisone sodium",
        "hydrocortisone",
    ]
    assert list(parent_keys("imatinib")) == []
    assert salt_free("amlodipine besylate") == "amlodipine"
    assert salt_free("magnesium sulfate") == ""


def test_hydrate_free_names_never_take_a_drug_name(bundle_copy: Settings) -> None:
    # "Ampicillin (anhydrous)" is a synonym of Ampicillin; a hydrate form of another drug
    # must not take the name "ampicillin" from it.
    _append_drugs(bundle_copy, "DB99997,,Ampicillin anhydrous,,,,")
    linker = Linker.from_settings(bundle_copy)
    assert linker.link_drug("ampicillin").id == "DB00415"
    assert linker.link_drug("ampicillin anhydrous").id == "DB99997"


def test_patient_medications_that_are_no_medication_are_reported(forms_linker: Linker) -> None:
    patient = PatientInput(
        conditions=["type 2 diabetes", "ICD9:V58.61", "ICD9:999.99"],
        medications=[
            *("Sulfate ion", "Chloride", "Sterile Water", "Lactose", "Sodium"),
            *("ferrous sulfate", "Amlodipine Besylate 5 MG Oral Tablet"),
        ],
        allergies=["lactose"],
    )
    linked = link_patient(forms_linker, patient)
    assert linked.medications == ["DB13257", "DB00381"]
    assert linked.allergies == ["DB04465"]  # a lactose allergy is real
    problems = {value: problem for _, value, problem in linked.unlinked}
    assert problems["Sulfate ion"] == (
        "Not a medication: 'Sulfate ion' names only Sulfate ion (DB14546), an ion."
    )
    assert "Chloride ion (DB14547), an ion" in problems["Chloride"]
    assert "Water (DB09145), an excipient" in problems["Sterile Water"]
    assert "Lactose (DB04465), an excipient" in problems["Lactose"]
    assert problems["Sodium"].startswith("Unknown drug: 'Sodium'")
    assert problems["ICD9:V58.61"] == (
        "ICD-9 V58.61 (Long-term (current) use of anticoagulants) names no disease of the "
        "vocabularies"
    )
    assert problems["ICD9:999.99"] == "ICD-9 code 999.99 is not in the ICD-9 diagnosis table"
    assert linked.conditions == ["MESH:D003924"]


def test_not_a_medication_is_an_unknown_entity(forms_linker: Linker) -> None:
    with pytest.raises(NotAMedicationError) as caught:
        link_value(forms_linker, "Sterile water", ("drug",), medication=True)
    assert isinstance(caught.value, UnknownEntityError)
    assert (caught.value.entity.id, caught.value.reason) == ("DB09145", "an excipient")
    # outside the medication list the same name still links (a lookup, an allergy)
    assert link_value(forms_linker, "Sterile water", ("drug",)).id == "DB09145"
    assert forms_linker.link_drug("Sulfate ion").id == "DB14546"


# --- fuzzy matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [("imatinb", "drug", "DB00619"), ("hypertenion", "disease", "MESH:D006973")],
)
def test_typo_is_accepted_with_its_score(
    tiny_linker: Linker, text: str, kind: str, expected: str
) -> None:
    entity = tiny_linker.link(text, kind)  # type: ignore[arg-type]
    assert entity.canonical == expected
    assert tiny_linker.accept_score <= entity.score < 100


def test_below_threshold_is_rejected_with_suggestions(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_drug("imatinibbo")
    assert caught.value.kind == "drug"
    assert caught.value.suggestions[0] == "Imatinib (DB00619)"
    assert "Imatinib (DB00619)" in str(caught.value)
    found = tiny_linker.candidates("imatinibbo", "drug")
    assert found[0].id == "DB00619"
    assert all(c.score < tiny_linker.accept_score for c in found)


def test_nonsense_is_rejected(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_disease("xyzzy")
    assert caught.value.suggestions == []
    assert "No similar name" in str(caught.value)


def test_a_different_number_is_never_a_typo(tiny_linker: Linker) -> None:
    # one character away from "type 2 diabetes mellitus", but another disease
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_disease("type 3 diabetes mellitus")
    assert any("MESH:D003924" in s for s in caught.value.suggestions)


def test_partial_names_are_suggested_not_linked(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError) as caught:
        tiny_linker.link_disease("leukemia")
    assert any("MESH:D015464" in s for s in caught.value.suggestions)


def test_wrong_kind_is_not_linked(tiny_linker: Linker) -> None:
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("warfarin")
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_drug("DB99999")
    with pytest.raises(UnknownEntityError):
        tiny_linker.link_disease("D010406")  # a MeSH chemical, not a disease


def test_candidates_rank_accepted_before_suggestions(tiny_linker: Linker) -> None:
    found = tiny_linker.candidates("warfarin", limit=10)
    assert found[0].id == "DB00682" and found[0].score == 100.0
    scores = [c.score >= tiny_linker.accept_score for c in found]
    assert scores == sorted(scores, reverse=True)
    assert len({(c.kind, c.canonical) for c in found}) == len(found)
    assert len(tiny_linker.candidates("warfarin", limit=1)) == 1


@pytest.mark.parametrize("bad", ["", "   ", "x" * 501, None, 42, b"imatinib"])
def test_bad_input_is_a_clear_error(tiny_linker: Linker, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        tiny_linker.link_drug(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        tiny_linker.candidates(bad)  # type: ignore[arg-type]


def test_bad_kind_and_limit_are_clear_errors(tiny_linker: Linker) -> None:
    with pytest.raises(InvalidInputError, match="kind"):
        tiny_linker.link("imatinib", "gene")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="limit"):
        tiny_linker.candidates("imatinib", limit=0)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=400))
def test_candidates_never_crash(tiny_linker: Linker, text: str) -> None:
    if not text.strip():
        with pytest.raises(InvalidInputError):
            tiny_linker.candidates(text)
        return
    for candidate in tiny_linker.candidates(text, limit=8):
        assert isinstance(candidate, LinkedEntity)
        assert 0 <= candidate.score <= 100
        assert candidate.kind in {"drug", "disease", "substance"}
        assert candidate.id in candidate.equivalents


# --- the index cache ----------------------------------------------------------------------


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE_BUNDLE, data)
    return Settings(data_dir=data, home=tmp_path / "home")


def _append_drugs(settings: Settings, *rows: str) -> None:
    vocab = settings.data_dir / "names" / "drugbank_vocabulary.csv"
    with vocab.open("a", encoding="utf-8") as handle:
        handle.writelines(row + "\n" for row in rows)
    os.utime(vocab)


def test_index_cache_is_reused_and_rebuilt_when_inputs_change(bundle_copy: Settings) -> None:
    path = Linker.build_index(bundle_copy)
    assert path == index_path(bundle_copy) and path.parent == bundle_copy.cache_dir
    first = path.stat().st_mtime_ns
    assert Linker.build_index(bundle_copy).stat().st_mtime_ns == first  # no-op
    assert Linker.from_settings(bundle_copy).link_drug("imatinib").id == "DB00619"
    assert path.stat().st_mtime_ns == first  # loading does not rebuild either
    _append_drugs(bundle_copy, "DB99998,,Testamab,,,Testamabum,")
    assert Linker.build_index(bundle_copy).stat().st_mtime_ns != first
    assert Linker.from_settings(bundle_copy).link_drug("testamab").id == "DB99998"


def test_forced_and_corrupt_caches_are_rebuilt(bundle_copy: Settings) -> None:
    path = Linker.build_index(bundle_copy)
    first = path.stat().st_mtime_ns
    assert Linker.build_index(bundle_copy, force=True).stat().st_mtime_ns != first
    path.write_bytes(b"not a pickle")
    assert Linker.from_settings(bundle_copy).link_drug("DB00619").name == "Imatinib"
    assert Linker.build_index(bundle_copy).stat().st_size > 1000


def test_a_missing_bundle_file_is_a_clear_error(bundle_copy: Settings) -> None:
    from kedrec_agent.errors import DataMissingError

    (bundle_copy.data_dir / "names" / "mesh_terms.tsv").unlink()
    with pytest.raises(DataMissingError, match="mesh_terms"):
        Linker.build_index(bundle_copy)


def test_a_fuzzy_tie_between_two_entities_is_not_linked(bundle_copy: Settings) -> None:
    _append_drugs(bundle_copy, "DB99991,,Zorbatinib,,,,", "DB99992,,Zorbatinob,,,,")
    linker = Linker.from_settings(bundle_copy)
    assert linker.link_drug("zorbatinib").id == "DB99991"
    with pytest.raises(UnknownEntityError) as caught:
        linker.link_drug("zorbatinab")  # as close to one as to the other
    assert {"Zorbatinib (DB99991)", "Zorbatinob (DB99992)"} <= set(caught.value.suggestions)


def test_get_linker_is_cached_per_settings(tiny_settings: Settings, bundle_copy: Settings) -> None:
    assert get_linker(tiny_settings) is get_linker(tiny_settings)
    assert get_linker(bundle_copy) is not get_linker(tiny_settings)
