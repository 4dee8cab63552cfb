import numpy as np
import pytest
import soundfile as sf
from omegaconf import OmegaConf

from musicflamingo.mir import annotate, evaluate, fuse, harte, tools
from musicflamingo.mir.batch import annotate_to_dir, items_for, mir_config_hash
from musicflamingo.schemas import KEYS_24, MirFacts
from tests.conftest import REPO

MIR = OmegaConf.to_container(OmegaConf.load(REPO / "conf/mir/default.yaml")) | {"jobs": 1}
MIR["asr"] = {**MIR["asr"], "backend": "none"}


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
    assert all(tools.index_key(tools.key_index(k)) == k for k in KEYS_24)


# --- fusion, on hand-made tool outputs ------------------------------------------


def test_tempo_fusion_resolves_the_octave_when_the_tools_disagree():
    # The mechanism, with weights where the prior and essentia together can outvote madmom's level.
    cfg = MIR["fusion"]["tempo"] | {"prior_bpm": 100, "prior_octaves": 0.5, "essentia_weight": 0.6, "octave_support": 0.5}
    # madmom tracked half time, essentia the quarter: the agreement + prior favour the quarter.
    assert fuse.tempo(55.0, 110.0, 0.0, cfg)["tempo_bpm"] == pytest.approx(110.0, rel=0.02)
    # madmom tracked double time, essentia the quarter.
    assert fuse.tempo(176.0, 88.0, 0.0, cfg)["tempo_bpm"] == pytest.approx(88.0, rel=0.02)
    # A dotted-quarter beat with ternary subdivision votes for 3/2 of it (when that vote is switched on).
    assert fuse.tempo(60.0, 60.0, 2.0, cfg | {"ternary_weight": 1.0})["tempo_bpm"] == pytest.approx(90.0, rel=0.02)
    out = fuse.tempo(100.0, 100.0, 0.0, cfg)
    assert out["tempo_bpm"] == pytest.approx(100.0) and out["tempo_alternatives"] and 0 < out["tempo_confidence"] <= 1


def test_key_fusion_outvotes_one_wrong_tool():
    cnn = np.zeros(24)
    cnn[tools.key_index("G major")] = 0.9  # the CNN lands a fifth away
    chroma_c = np.roll(fuse.AE_MAJOR, 0)  # pitch content of C major
    out = fuse.key(cnn, {"bgate": ("C major", 0.8), "edma": ("C major", 0.7)}, chroma_c, MIR["fusion"]["key"])
    assert out["key"] == "C major" and out["key_alternatives"][0][0] == "G major"


def test_chord_evidence_separates_relative_keys():
    # A profile cannot tell A minor from C major (same notes); the tonic chord and the final chord can.
    chroma_c = np.roll(fuse.AE_MAJOR, 0) + np.roll(fuse.AE_MINOR, 9)
    tool_chords = {"chordino": [[0.0, 6.0, "A:min"], [6.0, 8.0, "E:maj"], [8.0, 12.0, "A:min"]], "madmom_chords": [[0.0, 12.0, "A:min"]]}
    share, final = fuse.tonic_chord_evidence(tool_chords)
    assert share[tools.key_index("A minor")] == pytest.approx(10 / 12 / 2 + 1 / 2) and final[tools.key_index("A minor")] == 1.0
    cfg = MIR["fusion"]["key"] | {"tonic_chord_weight": 1.0, "final_chord_weight": 0.5}
    assert fuse.key(None, {}, chroma_c, cfg, tool_chords)["key"] == "A minor"
    assert fuse.key(None, {}, chroma_c, cfg, {"chordino": [[0.0, 12.0, "C:maj"]]})["key"] == "C major"


def test_fused_beats_follow_the_fused_tempo_level():
    beats = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert fuse.beats_at_level(beats, [0.0, 4.0], 2.0) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert fuse.beats_at_level(beats, [1.0, 3.0, 5.0], 0.5) == [1.0, 3.0, 5.0]  # the phase that keeps the downbeats
    assert fuse.beats_at_level(beats, [0.0], 1.5) == beats  # no beat-synchronous x3/2
    # The meter counts the fused beats: 2 tracked beats per bar at double tempo are 4.
    assert fuse.beats_per_bar(fuse.beats_at_level(beats, [0.0, 2.0, 4.0], 2.0), [0.0, 2.0, 4.0]) == 4


def test_evaluate_scores_tempo_at_the_notated_beat_level():
    six_eight = {"tempo_bpm": 120.0, "beat_bpm": 80.0}  # quarter = 120: dotted-quarter beat = 80
    assert evaluate.tempo_accuracy(evaluate.truth_tempo(six_eight), 80.0) == (1.0, 1.0)
    assert evaluate.truth_tempo({"tempo_bpm": 120.0}) == 120.0  # older sidecars: the quarter


def test_downbeat_network_subset_is_configurable():
    rnn, dbn = tools._downbeat_models((3, 4), 40.0, 240.0, 2, 30)
    ensemble = rnn.processors[1]
    assert len(ensemble.processors[0].processors) == 2
    with pytest.raises(ValueError, match="networks"):
        tools._downbeat_models((3, 4), 40.0, 240.0, 9, 30)


def test_chord_fusion_is_a_beat_synchronous_vote():
    tool_chords = {
        "chordino": [[0.0, 2.0, "C:maj7"], [2.0, 4.0, "G:7"]],
        "madmom_chords": [[0.0, 2.0, "C:maj"], [2.0, 4.0, "G:maj"]],
        "madmom_deepchroma": [[0.0, 4.0, "A:min"]],
    }
    out = fuse.chords(tool_chords, {}, [1.0, 2.0, 3.0], 4.0, "C major", None, 10.0, MIR["fusion"]["chords"])
    assert out == [[0.0, 2.0, "C:maj"], [2.0, 4.0, "G:maj"]]


# --- the real tools on a rendered chorale ------------------------------------------


@pytest.fixture(scope="module")
def chorale_facts(chorale, tmp_path_factory):
    wav, truth = chorale
    items, _ = items_for([wav])
    facts, quarantine = annotate.annotate(items, MIR, "h", tmp_path_factory.mktemp("cache"), jobs=1)
    return facts, quarantine, truth


def test_real_tools_on_a_rendered_chorale(chorale_facts):
    facts, quarantine, truth = chorale_facts
    assert quarantine == [] and len(facts) == 1
    f = MirFacts(**facts[0]).model_dump()
    ratio = f["tempo_bpm"] / truth["tempo_bpm"]
    assert min(abs(ratio - r) for r in (0.5, 1.0, 2.0)) < 0.05, f["tempo_bpm"]
    assert f["key"] in KEYS_24 and 0 < f["key_confidence"] <= 1
    assert f["time_signature"] in ("3/4", "4/4")
    assert len(f["beats"]) > 10 and f["downbeats"][0] in f["beats"]
    assert any(lab not in ("N", "X") for _, _, lab in f["chords"])
    assert f["sections"] and f["sections"][0][2] == "A" and f["sections"][-1][1] == pytest.approx(f["duration_s"], abs=0.01)
    assert f["section_keys"] and all(k in KEYS_24 for *_, k in f["section_keys"])
    assert -40 < f["loudness_lufs"] < 0 and f["loudness_range_lu"] >= 0
    assert 100 < f["brightness_hz"] < 8000 and f["onset_density"] > 0.5
    assert f["vocals"] is False and f["words"] == [] and f["lyrics"] == ""
    per = f["per_tool"]
    assert {"madmom", "essentia", "madmom_key", "chordino", "madmom_chords", "madmom_deepchroma", "essentia_bgate"} <= set(per)
    assert per["chordino"]["chords"] and per["madmom"]["tempo_bpm"] > 0
    seg = f["segments"][0]
    assert seg["start_s"] == 0.0 and seg["key"] in KEYS_24 and seg["chords"] and seg["loudness_lufs"] is not None


def test_evaluate_scores_tools_and_fused_side_by_side(chorale_facts):
    facts, _, truth = chorale_facts
    pred = dict(facts[0], path=f"audio/{truth['piece_id']}.wav")
    result = evaluate.evaluate({truth["piece_id"]: truth}, [pred])
    assert result["tracks"] == 1
    systems = result["systems"]
    assert {"fused", "madmom", "essentia", "chordino", "madmom_key"} <= set(systems)
    assert 0.0 <= systems["fused"]["chord_majmin"] <= 1.0 and systems["fused"]["beat_f"] > 0.3
    assert "fused" in evaluate.format_table(result)


def test_evaluate_gives_perfect_scores_to_the_truth_itself():
    truth = {
        "piece_id": "p", "tempo_bpm": 120.0, "key": "D minor", "vocals": True, "lyrics": "la la land",
        "beats": [i * 0.5 for i in range(40)], "downbeats": [i * 2.0 for i in range(10)],
        "chords": [[0.0, 10.0, "D:min"], [10.0, 20.0, "A:maj"]],
    }
    pred = {"path": "x/p.wav", "tempo_bpm": 240.0, "key": "D minor", "beats": truth["beats"], "downbeats": truth["downbeats"],
            "chords": truth["chords"], "vocals": True, "lyrics": "la la land", "tools": {"asr": "pocketsphinx"}}
    s = evaluate.evaluate({"p": truth}, [pred])["systems"]["fused"]
    assert s["tempo_acc1"] == 0.0 and s["tempo_acc2"] == 1.0  # double time: an octave error
    assert s["beat_f"] == s["downbeat_f"] == s["key_weighted"] == s["chord_majmin"] == 1.0
    assert s["lyrics_wer"] == 0.0 and s["vocals_acc"] == 1.0


def test_oracle_takes_the_best_tool_per_track():
    beats = [i * 0.5 for i in range(40)]
    truth = {"piece_id": "p", "tempo_bpm": 120.0, "key": "D minor", "beats": beats, "chords": [[0.0, 20.0, "D:min"]]}
    per = {
        "madmom": {"tempo_bpm": 240.0, "beats": beats[::2]},  # double time
        "essentia": {"tempo_bpm": 121.0, "beats": beats},
        "madmom_key": {"key": "F major"}, "essentia_edma": {"key": "D minor"},
        "chordino": {"chords": [[0.0, 20.0, "D:min"]]}, "madmom_chords": {"chords": [[0.0, 20.0, "F:maj"]]},
    }
    pred = {"path": "x/p.wav", "tempo_bpm": 240.0, "key": "F major", "beats": beats[::2], "chords": [[0.0, 20.0, "F:maj"]], "per_tool": per}
    systems = evaluate.evaluate({"p": truth}, [pred])["systems"]
    assert systems["fused"]["tempo_acc1"] == 0.0 and systems["fused"]["key_weighted"] < 1.0
    oracle = systems["oracle"]
    assert oracle["tempo_acc1"] == oracle["beat_f"] == oracle["key_weighted"] == oracle["chord_majmin"] == 1.0


PHASES = {"decode", "resample", "madmom_beats", "essentia_rhythm", "essentia_key", "madmom_key", "madmom_chords", "chordino",
          "features", "loudness", "basic_pitch", "fusion", "sections", "tagger", "asr", "segments"}


def test_every_phase_is_profiled_and_the_models_load_once_in_the_parent(chorale_facts):
    facts, _, _ = chorale_facts
    timings = facts[0]["timings_s"]
    assert set(timings) == PHASES and all(v >= 0 for v in timings.values()) and sum(timings.values()) > 0
    # The parent loaded every model before forking its worker (the work itself ran in the worker).
    from musicflamingo.mir import notes

    assert MIR["notes"]["enabled"]  # the default stack includes basic-pitch
    for loader in (tools._key_model, tools._chord_models, tools._downbeat_models, tools._chordino_plugin, annotate.tagger.load, notes._model):
        assert loader.cache_info().currsize >= 1, loader
    # basic-pitch's ONNX session also runs on one thread (its default pool spin-waits against the other workers).
    assert notes._model().model.get_session_options().intra_op_num_threads == 1


def test_every_madmom_network_runs_on_one_thread_without_an_arena():
    from madmom.ml.nn.onnx_runtime import OnnxNeuralNetworkRuntime

    b = MIR["beats"]
    models = [*tools._downbeat_models(tuple(b["beats_per_bar"]), float(b["min_bpm"]), float(b["max_bpm"]), b["networks"], b["num_tempi"]),
              tools._key_model(), *tools._chord_models()]
    runtimes, stack = [], list(models)
    while stack:
        p = stack.pop()
        if isinstance(p, OnnxNeuralNetworkRuntime):
            runtimes.append(p)
        stack.extend(getattr(p, "processors", None) or [])
        stack.extend([p._runtime] if getattr(p, "_runtime", None) is not None else [])
    assert len(runtimes) >= 8 + 1 + 1 + 1  # the downbeat ensemble, key CNN(s), chord CNN, deep chroma DNN(s)
    assert {r.session.get_session_options().intra_op_num_threads for r in runtimes} == {1}
    # ... and without onnxruntime's memory arena, which would keep each session's largest chunk (tools._no_arena).
    assert {r.session.get_session_options().enable_cpu_mem_arena for r in runtimes} == {False}


def test_reused_rhythm_extractor_and_chordino_give_what_fresh_ones_give(tmp_path):
    import os

    import essentia.standard as es

    os.environ.setdefault("VAMP_PATH", tools._vamp_path())
    import vamp

    sr = 44100
    t = np.arange(6 * sr) / sr
    clips = []
    for freq, period in ((220.0, 0.5), (330.0, 0.4), (220.0, 0.5)):  # 120 and 150 BPM; the third is the first again
        x = 0.2 * np.sin(2 * np.pi * freq * t)
        for b in np.arange(0, 6, period):
            x[int(b * sr) : int(b * sr) + 200] += 0.5 * np.hanning(200)
        clips.append(x.astype(np.float32))
    tempi = []
    for x in clips:  # the same instances see every clip in turn
        fresh = float(es.RhythmExtractor2013(method="degara")(x)[0])
        tempi.append(tools.essentia_rhythm(x)["tempo_bpm"])
        assert tempi[-1] == pytest.approx(fresh, abs=0.5)  # (essentia's degara is not bit-deterministic on long music)
        x22 = tools.resample(x, sr, 22050)
        fresh = vamp.collect(x22, 22050, "nnls-chroma:chordino")["list"]
        got = tools.chordino(x22, 22050, len(x22) / 22050)
        assert [c[0] for c in got] == [round(float(c["timestamp"]), 3) for c in fresh][: len(got)] and len(got) >= len(fresh) - 1
    assert abs(tempi[1] - tempi[0]) > 20 and tempi[2] == pytest.approx(tempi[0], abs=0.5)


def test_cached_tracks_are_not_recomputed(chorale_facts, tmp_path, monkeypatch):
    facts, _, truth = chorale_facts
    from musicflamingo.io import JsonCache

    JsonCache(tmp_path).put(annotate.cache_key("t" * 64, "h"), facts[0])
    monkeypatch.setattr(annotate, "analyse", lambda *a: pytest.fail("recomputed a cached track"))
    again, _ = annotate.annotate([annotate.Item("t" * 64, "missing.wav", "x.wav", 1.0)], MIR, "h", tmp_path, jobs=1)
    assert again == facts


# --- bad audio, cache keys ---------------------------------------------------------------


def test_bad_audio_becomes_quarantine_rows_with_specific_reasons(tmp_path, tone):
    good = tone("good.wav", 3.0)
    bad = {
        "empty.wav": b"",
        "header.wav": tone("h.wav", 1.0).read_bytes()[:44],
        "truncated.wav": tone("t.wav", 3.0).read_bytes()[:30000],
        "text.wav": b"this is not audio\n" * 20,
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    short = tone("short.wav", 0.4)
    silent = tone("silent.wav", 2.0, amplitude=0.0)
    clipped = tmp_path / "clipped.wav"
    t = np.arange(2 * 22050) / 22050
    sf.write(clipped, np.clip(3 * np.sin(2 * np.pi * 220 * t), -1, 1).astype(np.float32), 22050, subtype="FLOAT")
    paths = [good, short, silent, clipped, *[tmp_path / n for n in bad]]
    items, pre = items_for(paths)
    # Only the validation matters here: fail fast before the expensive tools would run.
    summary = annotate_to_dir(items, MIR, tmp_path / "out", tmp_path / "cache", jobs=1, pre_quarantine=pre)
    from musicflamingo.io import read_jsonl

    reasons = {q["path"].rsplit("/", 1)[-1]: q["reason"] for q in read_jsonl(tmp_path / "out/quarantine.jsonl")}
    assert reasons["empty.wav"].startswith("empty")
    assert reasons["header.wav"].startswith(("header only", "truncated"))
    assert reasons["truncated.wav"].startswith("truncated")
    assert reasons["text.wav"].startswith("not audio")
    assert reasons["short.wav"].startswith("too short")
    assert reasons["silent.wav"].startswith("silent")
    assert reasons["clipped.wav"].startswith("clipped")
    assert summary["tracks"] == 1 and summary["quarantined"] == 7


def test_mir_config_changes_the_cache_key_and_unrelated_config_does_not():
    from musicflamingo.config import compose

    base = compose([])
    mir = lambda cfg: mir_config_hash(OmegaConf.to_container(cfg.mir, resolve=True))  # noqa: E731
    assert mir(base) == mir(compose(["mir.jobs=7", "mir.track_timeout_s=5", "seed=99", "data.demo.num_pieces=3"]))
    assert mir(base) != mir(compose(["mir.key.profiles=[edma]"]))
    assert mir(base) != mir(compose(["mir.fusion.tempo.prior_bpm=90"]))


def _clip(path, freq: float, seconds: float = 4.0, sr: int = 22050):
    """A short 'piece': a pitched tone with clicks on a 120 BPM grid (distinct content per frequency)."""
    t = np.arange(int(seconds * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * freq * t)
    for b in np.arange(0, seconds, 0.5):
        i = int(b * sr)
        x[i : i + 200] += 0.5 * np.hanning(200)
    sf.write(path, x.astype(np.float32), sr)
    return path


def test_sigkilled_annotate_resumes_without_redoing_finished_tracks(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    for i, f in enumerate((220.0, 330.0, 440.0, 550.0)):
        _clip(folder / f"c{i}.wav", f)
    out, cache = tmp_path / "out", tmp_path / "cache"
    cmd = [sys.executable, "-m", "musicflamingo.cli", "mir", "annotate", str(folder), "--out", str(out), "-j", "1", "--cache", str(cache), "--set", "mir.asr.backend=none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not list(cache.rglob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its pebble workers, mid-run
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in cache.rglob("*.json")}
    assert 1 <= len(finished) < 4, "kill landed after the first finished track and before the last"
    assert not (out / "tracks.jsonl").exists()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    assert all(p.stat().st_mtime_ns == m for p, m in finished.items()), "a finished track was recomputed"
    from musicflamingo.io import read_jsonl

    assert len(read_jsonl(out / "tracks.jsonl")) == 4 and len(list(cache.rglob("*.json"))) == 4


def _tiny_whisper(folder):
    """A random 1-layer Whisper with a byte-level vocabulary, built offline (no download)."""
    import json

    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(bytes_to_unicode().values())}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    eot = "<|endoftext|>"
    tok = WhisperTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), unk_token=eot, bos_token=eot, eos_token=eot, pad_token=eot)
    specials = ["<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    tok.add_tokens(specials + [f"<|{i * 0.02:.2f}|>" for i in range(1501)], special_tokens=True)
    ids = {t: tok.convert_tokens_to_ids(t) for t in [eot, *specials]}
    cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                        d_model=16, encoder_ffn_dim=32, decoder_ffn_dim=32, max_source_positions=1500, max_target_positions=64,
                        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids[eot], pad_token_id=ids[eot], bos_token_id=ids[eot])
    model = WhisperForConditionalGeneration(cfg)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids[eot], pad_token_id=ids[eot], no_timestamps_token_id=ids["<|notimestamps|>"],
        is_multilingual=False, max_length=20, alignment_heads=[[0, 0], [0, 1]], begin_suppress_tokens=[], suppress_tokens=[], max_initial_timestamp_index=50)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def test_whisper_backend_runs_from_a_local_checkpoint(tmp_path):
    from musicflamingo.mir import asr

    path = _tiny_whisper(tmp_path / "whisper")
    x = (0.1 * np.sin(2 * np.pi * 440 * np.arange(16000 * 3) / 16000)).astype(np.float32)
    words = asr.transcribe(x, 16000, {"backend": "whisper", "whisper_path": str(path)})
    assert isinstance(words, list)  # a random model says anything; the contract is the shape and the bounds
    assert all(0 <= s <= e <= 3.0 and isinstance(w, str) and w and p is None for s, e, w, p in words)
    with pytest.raises(ValueError, match="whisper_path"):
        asr.transcribe(x, 16000, {"backend": "whisper", "whisper_path": None})


def test_pocketsphinx_gives_timed_words_for_spoken_english(tmp_path):
    import io
    import subprocess

    from musicflamingo.mir import asr

    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "--stdout", "the music is playing in the house"], capture_output=True, timeout=30, check=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    words = asr.transcribe(x, sr, MIR["asr"] | {"backend": "pocketsphinx"})
    # Word timings lie inside the clip, fillers and silences are dropped. (Accuracy is not asserted: pocketsphinx's
    # US-English model hears espeak-ng's voice poorly, e.g. "you're the kids you know"; WER is a benchmark figure.)
    assert words and all(0 <= s < e <= len(x) / sr + 0.1 for s, e, *_ in words)
    assert all(w == w.lower() and not w.startswith(("<", "[")) and "(" not in w and p is None for *_, w, p in words)


def test_a_signal_while_the_models_load_is_an_ordinary_interrupt(tmp_path, monkeypatch):
    def interrupted(mir):
        raise KeyboardInterrupt("signal 15")

    monkeypatch.setattr(annotate, "preload", interrupted)
    with pytest.raises(annotate.Interrupted, match="rerun to resume"):
        annotate.annotate([annotate.Item("u" * 64, "/x/a.wav", "a.wav", 1.0)], MIR, "h", tmp_path, jobs=1)


def test_sections_with_a_last_bar_past_the_final_frame_warn_nothing():
    # madmom's last downbeat can sit after the final mel frame (real short files did): that bar's
    # features are zeros, as the NaN they were before turned into, without numpy's empty-mean warning.
    import warnings

    from musicflamingo.mir import features

    fps = features.FPS
    ff = {"mel": np.random.default_rng(0).random((int(20 * fps), 16))}
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/mir/default.yaml").sections)
    downbeats = [float(t) for t in np.arange(1.0, 24.0, 2.0)]  # the last four beyond the 20 s of frames
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = features.sections(ff, None, 10.0, downbeats, 24.0, cfg)
    assert out[0][0] == 0.0 and out[-1][1] == 24.0 and all(a < b for a, b, _ in out)


def test_essentia_keys_share_one_hpcp_and_equal_key_extractor(chorale):
    """tools.essentia_keys computes the HPCP once; each profile's key and strength equal KeyExtractor's own."""
    es = tools._essentia()
    x = tools.load_mono(chorale[0], 44100)
    rng = np.random.default_rng(1)
    for audio in (x, x[: 7 * 44100] + 0.01 * rng.standard_normal(7 * 44100).astype(np.float32)):
        got = tools.essentia_keys(audio, 44100, ["bgate", "temperley", "krumhansl", "edma"])
        for profile, (key, strength) in got.items():
            tonic, scale, ref = es.KeyExtractor(profileType=profile, sampleRate=44100.0)(audio)
            assert key == tools.key_name(tonic, scale) and strength == round(float(ref), 3), profile


def test_window_loudness_from_momentary_blocks_matches_essentia(chorale):
    """BS.1770 gating of the track's momentary blocks: the whole track equals essentia's integrated loudness,
    and a window is within 0.05 LU of essentia run on the cut window; silence and short spans give None."""
    sr = 22050
    x = tools.load_mono(chorale[0], sr)
    loud = tools.loudness(x, sr, blocks=True)
    m = loud["momentary_lufs"]
    assert tools.window_loudness(m, 0.0, len(x) / sr) == pytest.approx(loud["loudness_lufs"], abs=0.011)
    for a, b in ((0.0, 8.0), (5.0, 15.0)):
        ref = tools.loudness(x[int(a * sr) : int(b * sr)], sr)["loudness_lufs"]
        assert tools.window_loudness(m, a, b) == pytest.approx(ref, abs=0.05)
    assert tools.window_loudness(np.full(100, -120.0), 0.0, 10.0) is None
    assert tools.window_loudness(m, 3.0, 3.2) is None  # no whole 400 ms block inside
    assert "momentary_lufs" not in tools.loudness(x, sr)
