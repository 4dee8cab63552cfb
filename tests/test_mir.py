import pytest

from musicflamingo.mir import annotate, harte, tools
from musicflamingo.mir.stage import mir_config_hash
from musicflamingo.schemas import KEYS_24

MIR = {"sample_rate": 44100, "jobs": 1, "track_timeout_s": 120, "beats": {"beats_per_bar": [3, 4], "min_bpm": 40, "max_bpm": 240}, "key": {"profile": "bgate"}, "chords": {"tool": "chordino"}}


@pytest.mark.parametrize(
    "label,expected",
    [("N", "N"), ("C", "C:maj"), ("Em7", "E:min7"), ("Bb/F", "Bb:maj/5"), ("F#m7b5", "F#:hdim7"), ("G7/B", "G:7/3"), ("Abmaj7", "Ab:maj7"), ("Cdim7", "C:dim7")],
)
def test_chordino_labels_to_harte(label, expected):
    assert harte.to_harte(label) == expected


def test_unknown_quality_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        harte.to_harte("Csus9#11")


def test_key_names_are_normalised_to_the_24_key_set():
    assert tools.key_name("A#", "minor") == "Bb minor"
    assert tools.key_name("Db", "major") == "C# major"
    assert tools.key_name("F#", "major") in KEYS_24


@pytest.fixture(scope="module")
def chorale_facts(chorale, tmp_path_factory):
    wav, truth = chorale
    item = annotate.Item("t" * 64, str(wav), "x.wav", truth["duration_s"])
    facts, quarantine = annotate.annotate([item], MIR, "h", tmp_path_factory.mktemp("cache"), jobs=1)
    return facts, quarantine, truth


def test_real_tools_on_a_rendered_chorale(chorale_facts):
    facts, quarantine, truth = chorale_facts
    assert quarantine == [] and len(facts) == 1
    f = facts[0]
    ratio = f["tempo_bpm"] / truth["tempo_bpm"]
    # madmom may pick the metrical octave; anything else is a real error.
    assert min(abs(ratio - r) for r in (0.5, 1.0, 2.0)) < 0.05, f["tempo_bpm"]
    assert f["key"] in KEYS_24
    assert f["time_signature"] in ("3/4", "4/4")
    assert len(f["beats"]) > 10 and f["downbeats"][0] in f["beats"]
    assert any(lab not in ("N", "X") for _, _, lab in f["chords"])
    assert f["segments"] and f["segments"][0]["start_s"] == 0.0


def test_cached_tracks_are_not_recomputed(chorale_facts, tmp_path, monkeypatch):
    facts, _, truth = chorale_facts
    from musicflamingo.io import JsonCache

    JsonCache(tmp_path).put(annotate.cache_key("t" * 64, "h"), facts[0])
    monkeypatch.setattr(annotate, "analyse", lambda *a: pytest.fail("recomputed a cached track"))
    again, _ = annotate.annotate([annotate.Item("t" * 64, "missing.wav", "x.wav", 1.0)], MIR, "h", tmp_path, jobs=1)
    assert again == facts


def test_tool_failure_becomes_a_quarantine_row(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    facts, quarantine = annotate.annotate([annotate.Item("b" * 64, str(bad), "bad.wav", 1.0)], MIR, "h", tmp_path / "c", jobs=1)
    assert facts == [] and quarantine[0]["reason"].startswith("MIR failed")


def test_cache_key_ignores_workers_but_not_tool_settings():
    other_jobs = {**MIR, "jobs": 8, "track_timeout_s": 5}
    other_profile = {**MIR, "key": {"profile": "edma"}}
    assert mir_config_hash(MIR) == mir_config_hash(other_jobs)
    assert mir_config_hash(MIR) != mir_config_hash(other_profile)
