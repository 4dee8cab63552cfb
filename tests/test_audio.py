
import pytest

from musicflamingo.audio import demo_corpus, validate
from musicflamingo.schemas import KEYS_24
from tests.conftest import TINY_SF2


def _reject_reason(path):
    with pytest.raises(validate.Rejected) as exc:
        d = validate.decode(path)
        validate.check_signal(d, 1.0, 1200.0, -60.0)
    return str(exc.value)


def test_good_wav_decodes_to_mono(tone):
    d = validate.decode(tone("ok.wav", 2.0))
    assert abs(d.duration_s - 2.0) < 1e-3 and d.samples.ndim == 1


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    assert _reject_reason(tmp_path / "e.wav").startswith("empty file")


def test_text_named_wav_is_not_audio(tmp_path):
    (tmp_path / "t.wav").write_text("this is not audio\n" * 10)
    assert _reject_reason(tmp_path / "t.wav").startswith("not audio")


def test_truncated_wav_is_rejected(tone):
    path = tone("full.wav", 3.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert _reject_reason(path).startswith("truncated")


def test_header_only_wav_is_rejected(tone):
    path = tone("h.wav", 1.0)
    path.write_bytes(path.read_bytes()[:44])
    assert _reject_reason(path).startswith(("header only", "truncated"))


def test_truncated_ogg_is_rejected_although_libsndfile_reads_it(tone):
    path = tone("full.ogg", 4.0, fmt="OGG")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    assert _reject_reason(path).startswith("truncated")


def test_too_short_and_silent(tone):
    assert _reject_reason(tone("short.wav", 0.5)).startswith("too short")
    assert _reject_reason(tone("silent.wav", 2.0, amplitude=0.0)).startswith("silent")


def test_prepared_chorale_has_exact_tempo_and_valid_truth(chorale):
    wav, truth = chorale
    assert truth["tempo_bpm"] == 100.0
    assert truth["key"] in KEYS_24
    assert truth["time_signature"] == "4/4"
    assert truth["repeats_expanded"] is True
    labels = {lab for _, _, lab in truth["chords"]}
    assert labels - {"X"}, "a four-part chorale has triads"
    assert all(lab == "X" or ":" in lab for lab in labels)
    assert all(s < e for s, e, _ in truth["chords"])
    d = validate.decode(wav)
    # The render is the score at the chosen tempo, plus FluidSynth's reverb/release tail (~3 s of near-silence).
    assert truth["duration_s"] <= d.duration_s <= truth["duration_s"] + 4.0


def test_render_is_bounded_in_size(tmp_path, chorale):
    wav, _ = chorale
    midi = wav.with_suffix(".mid")
    with pytest.raises(demo_corpus.RenderError, match="passed"):
        demo_corpus.render(midi, tmp_path / "big.wav", TINY_SF2, 22050, 60, max_bytes=10_000)
    assert not (tmp_path / "big.wav").exists()


def test_plan_is_deterministic_and_mixes_traditions():
    sources = [{"tradition": "a", "glob": "bach/bwv*.mxl"}, {"tradition": "b", "glob": "essenFolksong/han*.abc"}]
    first = [s for _, s in zip(range(6), demo_corpus.plan(sources, 6, [0, 40], [60, 120], seed=1))]
    again = [s for _, s in zip(range(6), demo_corpus.plan(sources, 6, [0, 40], [60, 120], seed=1))]
    assert first == again
    assert {s.tradition for s in first} == {"a", "b"}
    assert len({s.gm_program for s in first}) == 2
