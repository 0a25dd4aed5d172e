"""Mention extraction from free-text patient notes (tiny bundle)."""

from __future__ import annotations

import pytest

from kedrec_agent.errors import InvalidInputError
from kedrec_agent.linking import Linker


def test_the_example_note(tiny_linker: Linker) -> None:
    note = (
        "68-year-old man with type 2 diabetes and hypertension on warfarin, allergic to penicillin"
    )
    m = tiny_linker.extract(note)
    assert [c.entity.canonical for c in m.conditions] == ["MESH:D003924", "MESH:D006973"]
    assert [d.entity.id for d in m.medications] == ["DB00682"]
    assert [a.entity.id for a in m.allergies] == ["MESH:D010406"]
    assert (m.age, m.sex, m.no_known_allergies) == (68, "male", False)
    first = m.conditions[0]
    assert note[first.start : first.end] == first.text == "type 2 diabetes"


def test_negation_and_nkda(tiny_linker: Linker) -> None:
    m = tiny_linker.extract(
        "72 yo F. Denies hypertension. Has type 2 diabetes. NKDA. Takes aspirin."
    )
    negated = {c.entity.canonical: c.negated for c in m.conditions}
    assert negated == {"MESH:D006973": True, "MESH:D003924": False}
    assert m.no_known_allergies
    assert [d.entity.id for d in m.medications] == ["DB00945"]
    assert (m.age, m.sex) == (72, "female")


def test_allergy_context_ends_at_a_medication_cue(tiny_linker: Linker) -> None:
    m = tiny_linker.extract("Allergic to ampicillin and aspirin; currently taking simvastatin")
    assert {a.entity.id for a in m.allergies} == {"DB00415", "DB00945"}
    assert [d.entity.id for d in m.medications] == ["DB00641"]


def test_repeated_mentions_are_merged(tiny_linker: Linker) -> None:
    m = tiny_linker.extract("Hypertension. On warfarin. Hypertension again, warfarin again.")
    assert len(m.conditions) == 1 and len(m.medications) == 1


def test_nothing_known_gives_empty_mentions(tiny_linker: Linker) -> None:
    m = tiny_linker.extract("Feels well today, came for a routine visit.")
    assert (m.conditions, m.medications, m.allergies) == ((), (), ())


@pytest.mark.parametrize("bad", ["", "  \n ", "x" * 20_001])
def test_bad_notes_are_clear_errors(tiny_linker: Linker, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        tiny_linker.extract(bad)
