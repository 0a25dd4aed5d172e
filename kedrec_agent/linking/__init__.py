"""Entity linking: names, synonyms and ids -> drugs, diseases, chemical classes.

:class:`Linker` resolves one name or id (:meth:`Linker.link`, :meth:`Linker.candidates`);
:meth:`Linker.extract` reads conditions, medications and allergies from a patient note.

The linker and the note reader load on first use, so that importing a light module of this
package (:mod:`~kedrec_agent.linking.diseases`, :mod:`~kedrec_agent.linking.normalize`)
does not import them (nor rapidfuzz).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kedrec_agent.linking.diseases import DiseaseConcept, DiseaseEquivalences

if TYPE_CHECKING:
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

_LAZY = {
    "EntityKind": "kedrec_agent.linking.linker",
    "LinkedEntity": "kedrec_agent.linking.linker",
    "Linker": "kedrec_agent.linking.linker",
    "get_linker": "kedrec_agent.linking.linker",
    "Mention": "kedrec_agent.linking.extract",
    "PatientMentions": "kedrec_agent.linking.extract",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
