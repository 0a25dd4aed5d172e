"""Entity linking: names, synonyms and ids -> drugs, diseases, chemical classes."""

from kedrec_agent.linking.diseases import DiseaseConcept, DiseaseEquivalences
from kedrec_agent.linking.extract import Mention, PatientMentions
from kedrec_agent.linking.linker import LinkedEntity, Linker, get_linker

__all__ = [
    "DiseaseConcept",
    "DiseaseEquivalences",
    "LinkedEntity",
    "Linker",
    "Mention",
    "PatientMentions",
    "get_linker",
]
