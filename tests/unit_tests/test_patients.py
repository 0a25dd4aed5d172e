"""Patient readers: FHIR R4 Bundles, MIMIC-III, Synthea CSV and user files (no stores needed)."""

from __future__ import annotations

import copy
import csv
import gzip
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.codeableconcept import CodeableConcept

from kedrec_agent.data.bundle import MIMIC_DEMO_DIR, SYNTHEA_DIR
from kedrec_agent.errors import DataMissingError, InvalidInputError
from kedrec_agent.patients import (
    PatientInput,
    from_fhir,
    from_mimic,
    from_synthea,
    load_patient,
    mimic_admissions,
    synthea_patients,
)
from kedrec_agent.patients import files as patient_files
from kedrec_agent.patients.common import split_semantic_tag
from kedrec_agent.patients.fhir import concept_value
from kedrec_agent.patients.fhir import from_fhir as from_fhir_direct
from tests.conftest import FIXTURE_BUNDLE

FHIR_BUNDLE = Path(__file__).parents[1] / "fixtures" / "patients" / "fhir_r4_bundle.json"
TODAY = date(2024, 8, 14)
# Values of the fixture patient that no message or log line may contain.
SECRETS = ("Zebulon", "Quuxley", "Hypertension", "Warfarin", "Penicillin", "1956")

EXPECTED_FHIR = PatientInput(
    conditions=[
        "ICD9:250.00",  # ICD-9-CM coding, converted
        "Hypertension",  # SNOMED CT: the concept's text
        "Chronic kidney disease, stage 3 (moderate)",  # ICD-10 + SNOMED, no text: 1st display
        "MESH:D001249",  # MeSH (by OID) preferred over the SNOMED coding listed first
    ],
    medications=[
        "Warfarin 5 mg tablet",  # MedicationStatement, RxNorm + text
        "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",  # bundled Medication
        "DB00945",  # contained Medication coded with DrugBank
    ],
    allergies=["Penicillin"],  # "(substance)" removed; the food allergy is skipped
    age=67,  # born 1956-08-15, one day before the birthday
    sex="female",
    source="fhir",
)


def _bundle() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FHIR_BUNDLE.read_text())
    return data


def _no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# --- FHIR ---------------------------------------------------------------------------------


def test_from_fhir_reads_the_fixture_bundle_exactly() -> None:
    assert from_fhir(FHIR_BUNDLE.read_text(), today=TODAY) == EXPECTED_FHIR
    assert from_fhir(FHIR_BUNDLE.read_bytes(), today=TODAY) == EXPECTED_FHIR
    assert from_fhir(_bundle(), today=TODAY) == EXPECTED_FHIR
    assert from_fhir_direct is from_fhir


def test_from_fhir_logs_only_counts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kedrec_agent.patients.fhir"):
        from_fhir(_bundle(), today=TODAY)
    assert "4 condition(s), 3 medication(s), 1 allerg(ies) kept" in caplog.text
    assert "1 inactive condition" in caplog.text
    assert "1 stopped medication" in caplog.text
    assert "1 non-drug allergy" in caplog.text
    _no_secrets(caplog.text)


def test_from_fhir_skips_refuted_and_uncodable_resources() -> None:
    bundle = _bundle()
    refuted = copy.deepcopy(bundle["entry"][1])
    refuted["resource"]["verificationStatus"]["coding"][0]["code"] = "refuted"
    uncoded = copy.deepcopy(bundle["entry"][2])
    uncoded["resource"]["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}
    bundle["entry"] = [bundle["entry"][0], refuted, uncoded, *bundle["entry"][4:]]
    patient = from_fhir(bundle, today=TODAY)
    assert patient.conditions == EXPECTED_FHIR.conditions[2:]


def test_from_fhir_partial_birth_date_and_unknown_gender() -> None:
    bundle = _bundle()
    bundle["entry"][0]["resource"]["birthDate"] = "1950"
    bundle["entry"][0]["resource"]["gender"] = "unknown"
    patient = from_fhir(bundle, today=date(2020, 6, 1))
    assert (patient.age, patient.sex) == (70, None)


def test_from_fhir_without_patient_has_no_age_or_sex() -> None:
    bundle = _bundle()
    bundle["entry"] = bundle["entry"][1:]
    patient = from_fhir(bundle, today=TODAY)
    assert (patient.age, patient.sex, patient.conditions) == (None, None, EXPECTED_FHIR.conditions)


@pytest.mark.parametrize(
    ("coding", "text", "expected"),
    [
        ({"system": "https://go.drugbank.com/", "code": "db00619"}, None, "DB00619"),
        ({"system": "http://www.drugbank.ca", "code": "DB00945"}, "aspirin", "DB00945"),
        ({"system": "http://id.nlm.nih.gov/mesh", "code": "D003924"}, "T2D", "MESH:D003924"),
        ({"system": "http://purl.obolibrary.org/obo/DOID", "code": "DOID:9352"}, None, "DOID:9352"),
        ({"system": "http://hl7.org/fhir/sid/icd-9-cm", "code": "401.9"}, "HTN", "ICD9:401.9"),
        ({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}, "T2D", "T2D"),
        (
            {
                "system": "http://snomed.info/sct",
                "code": "44054006",
                "display": "Diabetes (disorder)",
            },
            None,
            "Diabetes",
        ),
        ({"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1"}, None, None),
    ],
)
def test_concept_value(coding: dict[str, str], text: str | None, expected: str | None) -> None:
    concept = CodeableConcept.model_validate({"coding": [coding], "text": text})
    assert concept_value(concept) == expected


def test_split_semantic_tag_only_removes_known_tags() -> None:
    assert split_semantic_tag("Eggs (edible) (substance)") == ("Eggs (edible)", "substance")
    assert split_semantic_tag("Chronic kidney disease, stage 3 (moderate)")[1] is None
    assert split_semantic_tag(" Full-time employment (finding) ") == (
        "Full-time employment",
        "finding",
    )


def _with_entry(index: int, resource: dict[str, Any]) -> dict[str, Any]:
    bundle = _bundle()
    bundle["entry"][index] = {"resource": resource}
    return bundle


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Zebulon Quuxley has diabetes {", "not valid JSON: Expecting value at line 1, column 1"),
        (b'{"resourceType": "Bundle",\n "type": Zebulon}', "at line 2, column 10"),
        ('["Zebulon"]', "must be a JSON object (a Bundle), not a list"),
        (
            {"resourceType": "Patient", "name": [{"family": "Quuxley"}]},
            "is a FHIR Patient resource, not a Bundle",
        ),
        ({"entry": [{"resource": {"name": "Zebulon"}}]}, 'without "resourceType": "Bundle"'),
        ({"resourceType": "Bundle", "entry": []}, "The FHIR Bundle is invalid: type:"),
        ({"resourceType": "Bundle", "type": "collection", "entry": ["Zebulon"]}, "entry 0 is not"),
        (
            _with_entry(
                2, {"resourceType": "Condition", "subject": {"reference": "Patient/p1"}, "code": 5}
            ),
            "FHIR Bundle entry 2 (Condition) is invalid: code:",
        ),
        (
            _with_entry(
                3,
                {
                    "resourceType": "Condition",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"text": "Hypertension"},
                    "onsetDateTime": "Zebulon-1956",
                },
            ),
            "FHIR Bundle entry 3 (Condition) is invalid: onsetDateTime:",
        ),
        (
            _with_entry(1, {"resourceType": "Condition", "code": {"text": "Hypertension"}}),
            "FHIR Bundle entry 1 (Condition) is invalid: subject: Field required",
        ),
        (
            _with_entry(0, {"resourceType": "Patient", "gender": "female", "nickname": "Zebulon"}),
            "FHIR Bundle entry 0 (Patient) is invalid: nickname: Extra inputs",
        ),
    ],
)
def test_from_fhir_rejects_malformed_input_without_echoing_it(given: Any, expected: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        from_fhir(given, today=TODAY)
    assert expected in str(caught.value)
    _no_secrets(str(caught.value))


def test_from_fhir_without_usable_condition() -> None:
    bundle = _bundle()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Condition"]
    with pytest.raises(InvalidInputError, match="no usable Condition") as caught:
        from_fhir(bundle, today=TODAY)
    _no_secrets(str(caught.value))
    only_resolved = _bundle()
    only_resolved["entry"] = [only_resolved["entry"][0], only_resolved["entry"][3]]
    with pytest.raises(InvalidInputError, match=r"no usable Condition.*1 inactive or refuted"):
        from_fhir(only_resolved, today=TODAY)


def test_from_fhir_rejects_two_patients() -> None:
    bundle = _bundle()
    bundle["entry"].append(copy.deepcopy(bundle["entry"][0]))
    with pytest.raises(InvalidInputError, match="2 Patient resources"):
        from_fhir(bundle, today=TODAY)


# --- MIMIC-III ----------------------------------------------------------------------------


# The tiny bundle's MIMIC-III demo and Synthea sample: a few records of the real ones, with
# all their lines (tests/fixtures/make_tiny_bundle.py writes them).
DEMO_DIR = FIXTURE_BUNDLE / MIMIC_DEMO_DIR
SYNTHEA_SAMPLE = FIXTURE_BUNDLE / SYNTHEA_DIR


@pytest.fixture
def tiny_data_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """KEDREC_DATA_DIR set to the tiny bundle, so that the readers' default folders are its."""
    monkeypatch.setenv("KEDREC_DATA_DIR", str(FIXTURE_BUNDLE))
    return FIXTURE_BUNDLE


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [{k.upper(): v for k, v in row.items()} for row in csv.DictReader(handle)]


def test_mimic_demo_admission_matches_the_csv_files(tiny_data_dir: Path) -> None:
    folder = tiny_data_dir / MIMIC_DEMO_DIR
    admissions = _csv_rows(folder / "ADMISSIONS.csv")
    assert mimic_admissions() == [int(row["HADM_ID"]) for row in admissions]
    first = admissions[0]
    hadm = int(first["HADM_ID"])
    codes = sorted(
        (int(row["SEQ_NUM"]), row["ICD9_CODE"])
        for row in _csv_rows(folder / "DIAGNOSES_ICD.csv")
        if row["HADM_ID"] == first["HADM_ID"] and row["ICD9_CODE"]
    )
    gender = next(
        row["GENDER"]
        for row in _csv_rows(folder / "PATIENTS.csv")
        if row["SUBJECT_ID"] == first["SUBJECT_ID"]
    )
    patient = from_mimic(hadm)
    assert patient.conditions == [f"ICD9:{code}" for _, code in codes]
    assert patient.sex == {"F": "female", "M": "male"}[gender]
    assert patient.age is not None and 0 <= patient.age <= 90
    assert (patient.medications, patient.text, patient.source) == ([], "", f"mimic:{hadm}")


def test_mimic_demo_patient_over_89_is_capped() -> None:
    folder = DEMO_DIR
    # MIMIC-III moves the birth of patients over 89 to ~300 years before admission.
    old = {
        row["SUBJECT_ID"]
        for row in _csv_rows(folder / "PATIENTS.csv")
        if row["DOB"][4:5] == "-" and row["DOB"][:4] < "1900"
    }
    hadm = next(
        int(row["HADM_ID"])
        for row in _csv_rows(folder / "ADMISSIONS.csv")
        if row["SUBJECT_ID"] in old
    )
    assert from_mimic(hadm, folder).age == 90


def _write_table(path: Path, header: list[str], rows: list[list[str]]) -> None:
    lines = [header, *rows]
    if path.suffix == ".gz":
        with gzip.open(path, "wt", newline="") as handle:
            csv.writer(handle).writerows(lines)
    else:
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows(lines)


@pytest.fixture
def mimic_full(tmp_path: Path) -> Path:
    """MIMIC-III v1.4 style: gzipped, upper-case columns, ISO dates."""
    _write_table(
        tmp_path / "ADMISSIONS.csv.gz",
        ["ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME", "DIAGNOSIS"],
        [
            ["1", "7", "100001", "2164-06-01 08:00:00", "SEPSIS"],
            ["2", "8", "100002", "2164-07-01 08:00:00", "CHF"],
            ["3", "8", "100003", "2165-01-01 08:00:00", "NONE"],
        ],
    )
    _write_table(
        tmp_path / "PATIENTS.csv.gz",
        ["ROW_ID", "SUBJECT_ID", "GENDER", "DOB"],
        [["1", "7", "F", "1864-03-01 00:00:00"], ["2", "8", "M", "2100-07-02 00:00:00"]],
    )
    _write_table(
        tmp_path / "DIAGNOSES_ICD.csv.gz",
        ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"],
        [
            ["1", "7", "100001", "3", "V5861"],
            ["2", "7", "100001", "1", "99591"],
            ["3", "8", "100002", "1", "4280"],
            ["4", "7", "100001", "2", "25000"],
            ["5", "7", "100001", "", ""],
        ],
    )
    return tmp_path


def test_mimic_full_format_gzip_and_age_cap(mimic_full: Path) -> None:
    assert mimic_admissions(mimic_full) == [100001, 100002, 100003]
    assert from_mimic(100001, mimic_full) == PatientInput(
        conditions=["ICD9:99591", "ICD9:25000", "ICD9:V5861"],
        age=90,  # 300 years old in the shifted dates
        sex="female",
        source="mimic:100001",
    )
    second = from_mimic(100002, mimic_full)
    assert (second.conditions, second.age, second.sex) == (["ICD9:4280"], 63, "male")


def test_mimic_spreadsheet_dates_and_lower_case_columns(tmp_path: Path) -> None:
    _write_table(
        tmp_path / "admissions.csv",
        ["row_id", "subject_id", "hadm_id", "admittime"],
        [["1", "1", "11", "10/23/64 21:09"], ["2", "2", "12", "10/23/64 21:09"]],
    )
    _write_table(
        tmp_path / "patients.csv",
        ["row_id", "subject_id", "gender", "dob"],
        [["1", "1", "F", "3/5/94 0:00"], ["2", "2", "M", "12/1/94 0:00"]],
    )
    _write_table(
        tmp_path / "diagnoses_icd.csv",
        ["row_id", "subject_id", "hadm_id", "seq_num", "icd9_code"],
        [["1", "1", "11", "1", "4019"], ["2", "2", "12", "1", "4019"]],
    )
    assert from_mimic(11, tmp_path).age == 70  # 2064 - 1994, birthday passed
    assert from_mimic(12, tmp_path).age == 69  # birthday in December not reached


def test_mimic_errors(mimic_full: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="No MIMIC-III admission 999"):
        from_mimic(999, mimic_full)
    with pytest.raises(InvalidInputError, match="100003 has no ICD-9 diagnosis code"):
        from_mimic(100003, mimic_full)
    with pytest.raises(DataMissingError, match="folder not found"):
        from_mimic(100001, tmp_path / "absent")
    (mimic_full / "DIAGNOSES_ICD.csv.gz").unlink()
    with pytest.raises(DataMissingError, match="DIAGNOSES_ICD"):
        from_mimic(100001, mimic_full)


# --- Synthea ------------------------------------------------------------------------------

A, B, C, D = "pat-a", "pat-b", "pat-c", "pat-d"


@pytest.fixture
def synthea_dir(tmp_path: Path) -> Path:
    _write_table(
        tmp_path / "patients.csv",
        ["Id", "BIRTHDATE", "DEATHDATE", "FIRST", "LAST", "GENDER"],
        [
            [A, "1960-05-20", "", "Alice368", "Gleason633", "F"],
            [B, "1930-01-10", "2000-01-09", "Bob1", "Doe2", "M"],
            [C, "2010-02-02", "", "Cy3", "Roe4", "M"],
        ],
    )
    _write_table(
        tmp_path / "conditions.csv",
        ["START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION"],
        [
            ["2015-01-01", "", A, "e1", "44054006", "Diabetes mellitus type 2 (disorder)"],
            ["2015-01-01", "", A, "e1", "314529007", "Medication review due (situation)"],
            ["2016-01-01", "", A, "e2", "160903007", "Full-time employment (finding)"],
            ["2017-01-01", "2017-02-01", A, "e3", "444814009", "Viral sinusitis (disorder)"],
            ["2018-01-01", "", A, "e4", "59621000", "Essential hypertension (disorder)"],
            ["2019-01-01", "", A, "e5", "44054006", "Diabetes mellitus type 2 (disorder)"],
            ["1990-01-01", "", B, "e6", "49436004", "Atrial fibrillation (disorder)"],
            ["2020-01-01", "", C, "e7", "160903007", "Full-time employment (finding)"],
        ],
    )
    _write_table(
        tmp_path / "medications.csv",
        ["START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION"],
        [
            ["2015-01-01T00:00:00Z", "", A, "p", "e1", "860975", "24 HR Metformin 500 MG Tablet"],
            [
                "2017-01-01T00:00:00Z",
                "2017-01-10T00:00:00Z",
                A,
                "p",
                "e3",
                "308192",
                "Amoxicillin 500 MG Oral Tablet",
            ],
            ["2018-01-01T00:00:00Z", "", A, "p", "e4", "314076", "lisinopril 10 MG Oral Tablet"],
            ["1990-01-01T00:00:00Z", "", B, "p", "e6", "855332", "Warfarin 5 MG Oral Tablet"],
        ],
    )
    _write_table(
        tmp_path / "allergies.csv",
        [
            "START",
            "STOP",
            "PATIENT",
            "ENCOUNTER",
            "CODE",
            "SYSTEM",
            "DESCRIPTION",
            "TYPE",
            "CATEGORY",
        ],
        [
            ["2011-03-02", "", A, "e1", "7980", "RxNorm", "Penicillin V", "allergy", "medication"],
            ["2011-03-02", "", A, "e1", "1191", "RxNorm", "Aspirin", "allergy", "medication"],
            [
                "2011-03-02",
                "2012-01-01",
                A,
                "e1",
                "2670",
                "RxNorm",
                "Codeine",
                "allergy",
                "medication",
            ],
            [
                "2011-03-02",
                "",
                A,
                "e1",
                "762952008",
                "SNOMED-CT",
                "Peanut (substance)",
                "allergy",
                "food",
            ],
            [
                "2011-03-02",
                "",
                A,
                "e1",
                "256277009",
                "SNOMED-CT",
                "Grass pollen (substance)",
                "allergy",
                "environment",
            ],
        ],
    )
    return tmp_path


def test_from_synthea_keeps_active_disorders_drugs_and_drug_allergies(synthea_dir: Path) -> None:
    assert synthea_patients(synthea_dir) == [A, B, C]
    assert from_synthea(A, synthea_dir, today=date(2024, 5, 19)) == PatientInput(
        conditions=["Diabetes mellitus type 2", "Essential hypertension"],
        medications=["24 HR Metformin 500 MG Tablet", "lisinopril 10 MG Oral Tablet"],
        allergies=["Penicillin V", "Aspirin"],
        age=63,
        sex="female",
        source=f"synthea:{A}",
    )


def test_from_synthea_dead_patient_age_at_death(synthea_dir: Path) -> None:
    patient = from_synthea(B, synthea_dir, today=date(2024, 1, 1))
    assert (patient.age, patient.sex, patient.allergies) == (69, "male", [])
    assert patient.conditions == ["Atrial fibrillation"]


def test_from_synthea_errors(synthea_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match="no active condition to treat"):
        from_synthea(C, synthea_dir)
    with pytest.raises(InvalidInputError, match="No Synthea patient 'nobody'"):
        from_synthea("nobody", synthea_dir)
    (synthea_dir / "allergies.csv").unlink()
    with pytest.raises(DataMissingError, match="allergies"):
        from_synthea(A, synthea_dir)


def test_from_synthea_on_the_bundled_sample(tiny_data_dir: Path) -> None:
    assert synthea_patients() == synthea_patients(SYNTHEA_SAMPLE)
    patient = None
    for patient_id in synthea_patients():
        try:
            patient = from_synthea(patient_id)
        except InvalidInputError:
            continue
        break
    assert patient is not None and patient.conditions
    assert patient.source is not None and patient.source.startswith("synthea:")


# --- user files ---------------------------------------------------------------------------


def test_load_patient_structured_json(tmp_path: Path) -> None:
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"conditions": ["type 2 diabetes"], "medications": ["warfarin"]}))
    assert load_patient(path) == PatientInput(
        conditions=["type 2 diabetes"], medications=["warfarin"], source="json"
    )


def test_load_patient_fhir_bundle() -> None:
    patient = load_patient(FHIR_BUNDLE)
    assert patient.model_copy(update={"age": 67}) == EXPECTED_FHIR


def test_load_patient_text(tmp_path: Path) -> None:
    path = tmp_path / "note.TXT"
    path.write_text("68-year-old man with type 2 diabetes on warfarin\n")
    assert load_patient(str(path)) == PatientInput(
        text="68-year-old man with type 2 diabetes on warfarin", source="text"
    )


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("p.json", '{\n  "conditions": ["Zebulon"],\n  "age": }', "line 3, column 10"),
        ("p.json", '["Zebulon"]', "must hold a JSON object"),
        (
            "p.json",
            '{"conditions": ["Hypertension"], "sex": "Zebulon", "name": "Quuxley"}',
            "The patient record in p.json is invalid: sex: Input should be",
        ),
        ("p.json", '{"resourceType": "Patient", "name": [{"family": "Quuxley"}]}', "not a Bundle"),
        ("p.json", '{"medications": ["Warfarin"]}', "give 'text' or at least one condition"),
        ("p.txt", "  \n", "is empty"),
        ("p.xml", "<Patient>Zebulon</Patient>", "Unsupported patient file type '.xml'"),
    ],
)
def test_load_patient_rejects_bad_files(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError) as caught:
        load_patient(path)
    assert expected in str(caught.value)
    _no_secrets(str(caught.value))


def test_load_patient_names_every_invalid_field(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"conditions": ["x"], "sex": "Zebulon", "name": "Quuxley", "age": 400}')
    with pytest.raises(InvalidInputError) as caught:
        load_patient(path)
    message = str(caught.value)
    assert all(field in message for field in ("sex:", "name:", "age:"))
    _no_secrets(message)


def test_load_patient_size_encoding_and_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataMissingError, match="not found"):
        load_patient(tmp_path / "absent.json")
    binary = tmp_path / "p.txt"
    binary.write_bytes(b"\xff\xfe\x00Zebulon")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        load_patient(binary)
    big = tmp_path / "big.txt"
    big.write_text("type 2 diabetes " * 8)
    monkeypatch.setattr(patient_files, "MAX_FILE_BYTES", 100)
    with pytest.raises(InvalidInputError, match="too large"):
        load_patient(big)
