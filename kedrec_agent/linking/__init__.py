"""Entity linking: names, synonyms and ids -> drugs, diseases, chemical classes.

:class:`Linker` resolves one name or id (:meth:`Linker.link`, :meth:`Linker.candidates`);
:meth:`Linker.extract` reads conditions, medications and allergies from a patient note.
"""

from kedrec_agent.linking.diseases import DiseaseConcept, DiseaseEquivalences
from kedrec_agent.linking.extract import Mention, PatientMentions
from kedrec_agent.linking.linker import EntityKind, LinkedEntity, Linker, get_linker

__all__ = [
    "DiseaseConcept",
    "DiseaseEquivalences",
    "EntityKind",
    "LinkedEntity",
    "Linker",
    "Mention",
    "PatientMentions",
    "get_linker",
]
