"""Patient inputs: free text, structured JSON, FHIR R4 bundles, MIMIC-III and Synthea records.

The readers load on first use, so that importing :class:`PatientInput` stays light
(``fhir.resources`` takes a noticeable time to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kedrec_agent.patients.model import PatientInput

if TYPE_CHECKING:
    from kedrec_agent.patients.fhir import from_fhir
    from kedrec_agent.patients.files import load_patient
    from kedrec_agent.patients.mimic import from_mimic, mimic_admissions
    from kedrec_agent.patients.synthea import from_synthea, synthea_patients

__all__ = [
    "PatientInput",
    "from_fhir",
    "from_mimic",
    "from_synthea",
    "load_patient",
    "mimic_admissions",
    "synthea_patients",
]

_LAZY = {
    "from_fhir": "kedrec_agent.patients.fhir",
    "load_patient": "kedrec_agent.patients.files",
    "from_mimic": "kedrec_agent.patients.mimic",
    "mimic_admissions": "kedrec_agent.patients.mimic",
    "from_synthea": "kedrec_agent.patients.synthea",
    "synthea_patients": "kedrec_agent.patients.synthea",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'kedrec_agent.patients' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
