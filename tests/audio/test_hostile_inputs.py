"""Every hostile input gets exactly one true outcome row, through the real entry points.

The corpus (musicflamingo.testing.hostile) holds every case of the real-files
issue as a small generated file: MP3s without Xing headers, AAC/MP4/WMA,
quiet intros, float headroom, inverted polarity, duplicates, broken links,
linked folders, a name that is not UTF-8, corrupt floats, truncations.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musicflamingo.testing import hostile

CASES = [c for c in hostile.cases() if not c.big]


@pytest.fixture(scope="module")
def raw_audio_run(tmp_path_factory):
    """The `raw_audio` stage over the whole hostile corpus (demo corpus off)."""
    from musicflamingo import registry
    from musicflamingo.audio.stage import run_raw_audio
    from musicflamingo.config import compose
    from musicflamingo.io import read_jsonl
    from musicflamingo.stage import StageContext

    root = tmp_path_factory.mktemp("root")
    corpus = root / "audio_in"
    hostile.build(corpus)
    cfg = compose(["data.demo.enabled=false"])
    summary = run_raw_audio(cfg, StageContext(root=root, stage=registry.get("raw_audio")))
    out = root / "data" / "raw_audio"
    outcomes = {t["tags"]["original_path"].removeprefix("audio_in/"): "track" for t in read_jsonl(out / "tracks.jsonl")}
    rows = read_jsonl(out / "quarantine.jsonl")
    for q in rows:
        name = q["path"].removeprefix("audio_in/")
        assert name not in outcomes, f"two outcome rows for {name}"
        outcomes[name] = q["reason"]
    return summary, outcomes, rows, root


@pytest.mark.parametrize("case", CASES, ids=[os.fsencode(c.name).decode("utf-8", "backslashreplace") for c in CASES])
def test_each_hostile_input_gets_its_true_outcome(raw_audio_run, case):
    _, outcomes, _, _ = raw_audio_run
    outcome = hostile.outcome_for(case, outcomes)
    assert outcome is not None, f"{case.name!r} got no row ({case.doc})"
    assert hostile.matches(case, outcome), f"{case.name!r}: expected {case.expect!r}, got {outcome!r} ({case.doc})"


def test_one_row_per_input_and_every_row_is_strict_json(raw_audio_run):
    summary, outcomes, rows, root = raw_audio_run
    assert len(outcomes) == len(CASES) == summary["tracks"] + summary["quarantined"]
    for line in (root / "data" / "raw_audio" / "quarantine.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    noted = [q for q in rows if "not valid UTF-8" in q["reason"]] + [o for o in outcomes if "\\x" in o]
    assert noted, "the non-UTF-8 name is recorded as such"


def test_decoded_durations_come_from_the_stream_not_a_header_estimate(tmp_path):
    from musicflamingo.audio import loader

    by_name = {c.name: c for c in CASES}
    for name in ("mp3_cbr_noxing.mp3", "mp3_vbr_noxing.mp3", "good.m4a", "good.wma"):
        by_name[name].make(tmp_path / name)
        assert abs(loader.decode(tmp_path / name).duration_s - 6.0) < 0.1, name


def test_inverted_polarity_stereo_keeps_a_channel_instead_of_cancelling(tmp_path):
    from musicflamingo.audio import loader

    case = next(c for c in CASES if c.name == "inverted_stereo.wav")
    case.make(tmp_path / case.name)
    d = loader.decode(tmp_path / case.name)
    assert d.downmix.startswith("channel") and float(abs(d.samples).max()) > 0.1


def test_too_long_is_rejected_from_the_header_before_decoding(tmp_path, monkeypatch):
    from musicflamingo.audio import loader

    path = tmp_path / "long.wav"
    hostile._long_sparse_wav(180.0)(path)
    monkeypatch.setattr(loader, "_blocks_sndfile", lambda *a, **k: pytest.fail("decoded a file its header already rejects"))
    with pytest.raises(loader.Rejected, match="too long"):
        loader.decode(path, loader.Limits(max_duration_s=120.0))


def test_a_header_that_understates_the_length_still_stops_at_the_cap(tmp_path, monkeypatch):
    from musicflamingo.audio import loader

    path = tmp_path / "long.wav"
    hostile._long_sparse_wav(180.0)(path)
    real_probe = loader.probe
    monkeypatch.setattr(loader, "probe", lambda p, limits=loader.Limits(): real_probe(p, loader.Limits(max_duration_s=1e9)))
    with pytest.raises(loader.Rejected, match="too long: decodes past 120"):
        loader.decode(path, loader.Limits(max_duration_s=120.0))


def test_window_bounds_never_leave_an_empty_tail():
    from musicflamingo.audio.loader import window_bounds

    assert window_bounds(30.01, 30.0) == [(0.0, 30.01)]
    assert window_bounds(65.0, 30.0) == [(0.0, 30.0), (30.0, 60.0), (60.0, 65.0)]
    assert window_bounds(0.5, 30.0) == [(0.0, 0.5)]
    for d in (1.0, 29.99, 30.0, 60.4, 90.99, 1234.5):
        w = window_bounds(d, 30.0)
        assert w[0][0] == 0.0 and w[-1][1] == d and all(e - s >= 1.0 for s, e in w if d >= 1.0)


# --- `musicflamingo mir annotate`: the same rows, and failures that cost nothing ------------------


def _mir(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "musicflamingo.cli", "mir", "annotate", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def test_mir_annotate_missing_folder_is_one_line(tmp_path):
    proc = _mir(str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such folder or manifest" in proc.stderr


def test_mir_annotate_unwritable_output_is_one_line_before_any_work(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits: make the folder a file instead
            ro.chmod(0o700)
            ro.rmdir()
            ro.write_text("a file, not a folder")
        proc = _mir(str(tmp_path), "--out", str(ro / "out"))
    finally:
        if ro.is_dir():
            ro.chmod(0o700)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("musicflamingo mir annotate: cannot write to")
    assert proc.stderr.strip().count("\n") == 0


def test_mir_annotate_gives_every_manifest_row_one_outcome(tmp_path):
    """Bad manifest rows, duplicates and unreadable files are rows; nothing is decoded by MIR tools here."""
    from musicflamingo.audio.inputs import collect
    from musicflamingo.mir.batch import items_for

    by_name = {c.name: c for c in CASES}
    for name in ("good_pcm16.wav", "good_pcm16_copy.wav", "text.wav", "caf\udce9.wav"):
        by_name[name].make(tmp_path / name)
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps({"path": "good_pcm16.wav"}), json.dumps({"path": "good_pcm16_copy.wav"}), json.dumps({"title": "no path"}),
             "{not json", json.dumps({"path": "text.wav"}), json.dumps({"path": "missing.wav"})]
    manifest.write_text("\n".join(lines) + "\n")
    found, bad = collect(manifest, stage="mir_metadata")
    items, rows = items_for(found)
    assert len(items) + len(rows) + len(bad) == len(lines)
    reasons = sorted(r["reason"].split(":")[0] for r in bad + rows)
    assert reasons[0].startswith("duplicate of") and reasons[0].endswith("/good_pcm16.wav")
    assert reasons[1:] == ["manifest line is not JSON", "manifest row has no 'path' string", "no such file", "not audio"]
    folder_found, _ = collect(tmp_path, root=tmp_path)
    assert any("\\xe9" in f.display for f in folder_found)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_mir_annotate_stops_on_a_signal_and_keeps_finished_tracks(tmp_path, sig):
    import numpy as np
    import soundfile as sf

    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        t = np.arange(8 * 22050) / 22050
        sf.write(src / f"t{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 30 * i) * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32), 22050)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "musicflamingo.cli", "mir", "annotate", str(src), "--out", str(out), "-j", "1", "--set", "mir.asr.backend=none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((out / ".cache").rglob("*.json")):
        time.sleep(0.5)
    assert list((out / ".cache").rglob("*.json")), "no track finished in time"
    # Ctrl-C in a terminal signals the whole process group, workers included; SIGTERM comes to the parent alone.
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 15
    assert proc.returncode == 130 and "interrupted:" in err and "rerun to resume" in err
    assert len(list((out / ".cache").rglob("*.json"))) >= 1


def slow_fake_analyse(item, mir):
    """Stands in for the MIR tools in the pool tests (module level: workers import it by name)."""
    time.sleep(1.0)
    return {"track_id": item.track_id}


def test_a_failed_cache_write_stops_the_run_at_once(tmp_path, monkeypatch):
    from musicflamingo.io import JsonCache
    from musicflamingo.mir import annotate

    def full_disk(self, key, value):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(annotate, "analyse", slow_fake_analyse)
    monkeypatch.setattr(annotate, "preload", lambda mir: None)  # the fake analyse needs no models
    monkeypatch.setattr(JsonCache, "put", full_disk)
    items = [annotate.Item(f"{i:064x}", f"/x/{i}.wav", f"{i}.wav", 1.0) for i in range(8)]
    t0 = time.monotonic()
    with pytest.raises(OSError, match="No space left"):
        annotate.annotate(items, {"track_timeout_s": 60}, "h", tmp_path / "cache", jobs=1)
    assert time.monotonic() - t0 < 5, "the pool went on computing tracks it could not keep"


def test_two_runs_on_one_output_folder_do_not_both_write(tmp_path):
    from musicflamingo.io import OutputError, exclusive_lock
    from musicflamingo.mir.batch import annotate_to_dir

    with exclusive_lock(tmp_path / "out", "mir annotate"):
        with pytest.raises(OutputError, match="in use by another mir annotate"):
            annotate_to_dir([], {}, tmp_path / "out", tmp_path / "cache")
    annotate_to_dir([], {}, tmp_path / "out", tmp_path / "cache")  # free again once the first run ends


def test_non_finite_tool_values_become_null_with_the_reason():
    from musicflamingo.mir.annotate import finite_or_null

    out = finite_or_null({"loudness_lufs": float("-inf"), "tempo_confidence": float("nan"), "segments": [{"loudness_lufs": float("inf")}], "key": "C major"})
    assert out["loudness_lufs"] is None and out["tempo_confidence"] is None and out["segments"][0]["loudness_lufs"] is None
    assert out["nonfinite"]["fields"] == ["loudness_lufs", "tempo_confidence", "segments[0].loudness_lufs"]
    json.dumps(out, allow_nan=False)


def test_strict_json_writers_refuse_nan(tmp_path):
    from musicflamingo.io import write_json, write_jsonl

    with pytest.raises(ValueError):
        write_json(tmp_path / "a.json", {"x": float("nan")})
    with pytest.raises(ValueError):
        write_jsonl(tmp_path / "a.jsonl", [{"x": float("inf")}])
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "a.jsonl").exists()


def test_the_track_deadline_grows_with_a_probed_m4a_length(tmp_path):
    """An m4a's length is unknown to libsndfile; the probe gives it, so the per-track MIR deadline scales."""
    from musicflamingo.mir.batch import items_for

    path = tmp_path / "long.m4a"
    hostile._ffmpeg("sine=frequency=440", "-c:a", "aac", "-b:a", "32k", seconds=90.0)(path)
    (item,), rows = items_for([path])
    assert not rows and abs(item.duration_s - 90.0) < 0.5


def test_one_audio_file_is_a_source_too(tmp_path):
    from musicflamingo.audio.inputs import collect

    path = tmp_path / "one.flac"
    next(c for c in CASES if c.name == "good.flac").make(path)
    found, bad = collect(path)
    assert [f.path for f in found] == [path] and not bad


def test_a_format_libsndfile_cannot_open_falls_back_to_ffmpeg(tmp_path, monkeypatch):
    """Real FLACs at 12 or 20 bits per sample made libsndfile say 'unimplemented format'; ffmpeg reads them."""
    from musicflamingo.audio import loader

    path = tmp_path / "x.flac"
    next(c for c in CASES if c.name == "good.flac").make(path)

    def unimplemented(*a, **k):
        raise loader.Rejected("not audio: File contains data in an unimplemented format.")

    monkeypatch.setattr(loader, "_probe_sndfile", unimplemented)
    d = loader.decode(path)
    assert d.probe.decoder == "ffmpeg" and abs(d.duration_s - 3.0) < 0.05


def test_manifest_with_a_bom_and_a_repeated_path_gives_one_row_per_path(tmp_path):
    from musicflamingo.audio.inputs import collect

    next(c for c in CASES if c.name == "good.flac").make(tmp_path / "a.flac")
    (tmp_path / "m.jsonl").write_bytes(b"\xef\xbb\xbf" + b'{"path": "a.flac"}\n{"path": "a.flac"}\n{"path": "sub"}\n')
    (tmp_path / "sub").mkdir()
    found, bad = collect(tmp_path / "m.jsonl")
    assert not bad and [f.path.name for f in found] == ["a.flac", "sub"]
    from musicflamingo.audio import loader

    with pytest.raises(loader.Rejected, match="is a directory"):
        loader.probe(found[1].path)


@pytest.mark.parametrize("args,message", [(["-j", "-3"], "-j/--jobs must be 0"), (["--set", "mir.asr.bakend=none"], "bad --set override")])
def test_mir_annotate_bad_arguments_are_one_line(tmp_path, args, message):
    proc = _mir(str(tmp_path), "--out", str(tmp_path / "out"), *args, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.strip().count("\n") == 0
