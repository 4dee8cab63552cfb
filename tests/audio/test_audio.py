
import pytest

from musicflamingo.audio import demo_corpus
from musicflamingo.audio import loader
from musicflamingo.schemas import KEYS_24
from tests.conftest import TINY_SF2


def _reject_reason(path):
    with pytest.raises(loader.Rejected) as exc:
        d = loader.decode(path)
        loader.check_signal(d, 1.0, 1200.0, -60.0)
    return str(exc.value)


def test_good_wav_decodes_to_mono(tone):
    d = loader.decode(tone("ok.wav", 2.0))
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
    d = loader.decode(wav)
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


def test_clipped_audio_is_rejected(tmp_path):
    import numpy as np
    import soundfile as sf

    t = np.arange(44100) * 2 / 44100
    sf.write(tmp_path / "c.wav", np.clip(4 * np.sin(2 * np.pi * 200 * t), -1, 1).astype(np.float32), 44100, subtype="FLOAT")
    assert _reject_reason(tmp_path / "c.wav").startswith("clipped")


def test_truth_has_a_notated_beat_grid(chorale):
    _, truth = chorale
    beats, downbeats = truth["beats"], truth["downbeats"]
    assert truth["beat_bpm"] == 100.0  # 4/4: the beat is the quarter
    assert set(downbeats) <= set(beats) and len(beats) == 4 * len(downbeats) + (len(beats) % 4)
    assert all(abs((b - a) - 0.6) < 1e-3 for a, b in zip(beats, beats[1:]))


def test_the_corpus_definition_holds_at_least_100_pieces_from_many_traditions():
    from omegaconf import OmegaConf

    from tests.conftest import REPO

    demo = OmegaConf.load(REPO / "conf/data/demo.yaml").demo
    assert demo.corpus_size >= 100 and demo.num_pieces <= demo.corpus_size
    specs = [s for _, s in zip(range(300), demo_corpus.plan(list(demo.sources), demo.corpus_size, list(demo.gm_programs), list(demo.tempo_bpm_range), 1234))]
    assert len(specs) == 300  # enough candidates to fill corpus_size after rejected scores
    assert len({s.tradition for s in specs}) >= 10 and any(s.voice for s in specs)
    assert len({s.gm_program for s in specs}) >= 10 and len({s.tempo_bpm for s in specs}) >= 20
    bench = OmegaConf.load(REPO / "conf/data/benchmark.yaml").demo
    assert "FluidR3" in bench.soundfont


def test_sung_words_are_placed_exactly_at_their_onsets():
    import numpy as np

    from musicflamingo.audio import vocals

    notes = [[0.5, 1.0, "hello", 67], [1.5, 2.0, "music", 72], [2.5, 3.5, "world", 64]]
    audio, words = vocals.sing(notes, "en-us", 22050, 22050 * 4)
    assert [w for *_, w in words] == ["hello", "music", "world"]
    for (start, end, _), (n_start, *_rest) in zip(words, notes):
        assert start == n_start and end > start
        assert np.abs(audio[int(start * 22050) : int(start * 22050) + 200]).max() > 0  # sound starts on the note
    gaps = [(0.0, 0.49), (words[0][1] + 0.01, 1.49)]
    assert all(np.abs(audio[int(a * 22050) : int(b * 22050)]).max() == 0 for a, b in gaps if b > a)


def test_a_sung_piece_is_rendered_with_vocals_and_cached(tmp_path):
    from omegaconf import OmegaConf

    from tests.conftest import REPO

    demo = OmegaConf.to_container(OmegaConf.load(REPO / "conf/data/demo.yaml").demo) | {"max_seconds": 12}
    spec = demo_corpus.PieceSpec("bach/bwv9.7.mxl", None, "Bach chorale", 0, 120, voice="de")
    truth = demo_corpus.render_piece(spec, tmp_path / "p", demo)
    assert truth["vocals"] is True and truth["voice"] == "de" and len(truth["words"]) >= 4
    assert truth["lyrics"] == " ".join(w for *_, w in truth["words"])
    assert all(0 <= s < e <= truth["duration_s"] + 4 for s, e, _ in truth["words"])
    wav = tmp_path / "p" / "audio.wav"
    before = wav.stat().st_mtime_ns
    assert demo_corpus.render_piece(spec, tmp_path / "p", demo) == truth and wav.stat().st_mtime_ns == before
