"""The one pitch-class and key vocabulary (`musicflamingo.pitch`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicflamingo import pitch as p


@pytest.mark.parametrize("name, pc", [("C", 0), ("c", 0), ("C#", 1), ("Db", 1), ("D♭", 1), ("F sharp", 6), ("B flat", 10),
                                      ("Cb", 11), ("B#", 0), ("E#", 5), ("Abb", 7), ("Bb", 10), ("G", 7)])
def test_pitch_class(name, pc):
    assert p.pitch_class(name) == pc


@pytest.mark.parametrize("bad", ["", "H", "tonic", "major", "1", None])
def test_not_a_note_is_both_value_and_key_error(bad):
    with pytest.raises(ValueError):
        p.pitch_class(bad)
    with pytest.raises(KeyError):  # what the four copies it replaces raised, so their callers' handlers still hold
        p.pitch_class(bad)


def test_keys():
    assert p.key_name("A#", "Minor") == "Bb minor" and p.key_name("Db", "major") == "C# major"
    assert p.parse_key("Db major") == (1, "major")
    assert [p.index_key(p.key_index(k)) for k in p.KEYS_24] == list(p.KEYS_24)
    assert p.key_index("Db minor") == p.key_index("C# minor") == 13
    assert p.spellings(1) == ["C#", "Db"] and p.enharmonics("Bb") == ["A#"] and p.enharmonics("tonic") == []


@given(st.integers(0, 11))
def test_every_spelling_names_its_pitch_class(pc):
    names = p.spellings(pc)
    assert names[0] == p.PITCH_CLASSES[pc] and all(p.pitch_class(n) == pc for n in names) and len(set(names)) == len(names)
