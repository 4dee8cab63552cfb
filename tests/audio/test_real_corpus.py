"""The real-recording catalogue and its rebuild script (benchmarks/real_corpus.py).

The catalogue test checks the committed CSV's invariants; the rebuild tests run the script
against a tiny bare git repository made here, so they need no mirror and no audio.
"""

import csv
import hashlib
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("real_corpus", ROOT / "benchmarks/real_corpus.py")
real_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(real_corpus)


def test_committed_catalogue_is_consistent():
    rows = real_corpus.load_sources(real_corpus.DEFAULT_CSV)
    assert len(rows) >= 70
    for r in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", r["sha256"]), r["id"]
        assert re.fullmatch(r"[0-9a-f]{40}", r["commit"]), r["id"]
        assert r["licence"] and r["licence_source"], r["id"]
        assert r["file"] == f"files/{r['id']}.{r['format']}"
        # A definite vocal label always says where it came from.
        assert r["vocals"] == "unknown" or r["vocals_label_source"], r["id"]
        assert not r["instrument_family"] or r["instrument_label_source"], r["id"]
        assert r["solo_instrument"] in ("0", "1") and (r["solo_instrument"] == "0" or r["instrument"]), r["id"]
        assert r["tempo_bpm"] is None or 20 <= r["tempo_bpm"] <= 300, r["id"]
        assert not (r["tempo_bpm"] or r["key"]) or r["label_source"], r["id"]
    assert len({r["sha256"] for r in rows}) == len(rows), "a recording is listed twice"
    subset = [r for r in rows if r["run_subset"]]
    assert len(subset) >= 32
    assert sum(r["duration_s"] for r in subset) <= 15 * 60
    assert {"mp3", "flac", "ogg", "wav"} <= {r["format"] for r in subset}
    assert {"sung", "instrumental"} <= {r["vocals"] for r in subset}


def _bare_repo(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    """A mirror laid out like `fetch` leaves it: <mirror>/<owner>+<name>/repo (bare)."""
    work = tmp_path / "work"
    work.mkdir()
    for name, data in files.items():
        (work / name).write_bytes(data)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(work)]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    mirror = tmp_path / "mirror"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirror / "own+repo" / "repo")], check=True)
    return mirror, commit


def _write_csv(path: Path, rows: list[dict]) -> None:
    fields = ["id", "file", "repo", "commit", "repo_path", "sha256", "vocals", "duration_s",
              "beats_repo_path", "beats_file", "run_subset"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)


def test_rebuild_restores_verifies_and_reports(tmp_path, capsys):
    audio, beats = b"RIFF-not-really-audio", b"0.5\t1\n1.0\t2\n"
    mirror, commit = _bare_repo(tmp_path, {"a.wav": audio, "a.beats": beats})
    good = {"id": "a", "file": "files/a.wav", "repo": "own/repo", "commit": commit, "repo_path": "a.wav",
            "sha256": hashlib.sha256(audio).hexdigest(), "vocals": "instrumental", "duration_s": "2.0",
            "beats_repo_path": "a.beats", "beats_file": "annotations/a.beats"}
    bad_sha = dict(good, id="b", file="files/b.wav", sha256="0" * 64)
    missing_path = dict(good, id="c", file="files/c.wav", repo_path="nope.wav")
    no_mirror = dict(good, id="d", file="files/d.wav", repo="other/repo")
    csv_path = tmp_path / "sources.csv"
    _write_csv(csv_path, [good, bad_sha, missing_path, no_mirror])
    out = tmp_path / "out"

    rc = real_corpus.main(["--csv", str(csv_path), "--mirror", str(mirror), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 1
    assert (out / "files/a.wav").read_bytes() == audio
    assert (out / "annotations/a.beats").read_bytes() == beats
    assert not (out / "files/b.wav").exists()
    assert "cannot restore b: sha256 mismatch" in printed
    assert "cannot restore c:" in printed and "not in mirror" in printed
    assert "cannot restore d: no mirror" in printed and "github:other/repo" in printed
    assert "4 rows: 0 already present, 1 restored, 3 failed" in printed

    assert real_corpus.main(["--csv", str(csv_path), "--summary"]) == 0
    printed = capsys.readouterr().out
    assert "recordings: 4, 0.1 min" in printed and "vocals: instrumental 4" in printed

    # A second run over the good row finds it in place and verified.
    assert real_corpus.main(["--csv", str(csv_path), "--mirror", str(mirror), "--out", str(out), "--only", "a"]) == 0
    assert "1 already present" in capsys.readouterr().out


def test_load_sources_rejects_bad_rows(tmp_path):
    row = {"id": "a", "file": "files/a.wav", "repo": "o/r", "commit": "0" * 40, "repo_path": "a.wav",
           "sha256": "0" * 64, "vocals": "maybe"}
    path = tmp_path / "s.csv"
    _write_csv(path, [row])
    with pytest.raises(ValueError, match="vocals 'maybe'"):
        real_corpus.load_sources(path)
    _write_csv(path, [dict(row, vocals="sung"), dict(row, vocals="sung")])
    with pytest.raises(ValueError, match="duplicate id"):
        real_corpus.load_sources(path)


def test_ultrastar_lyrics_joins_syllables_into_phrases(tmp_path):
    song = "#TITLE:T\n#BPM:300\n: 0 4 4 Where\n: 6 2 5  did\n* 9 5 7  we\n: 16 11 5  go?\n- 29\n" \
           "F 64 3 4 When\n: 70 3 5  mo\n: 75 2 7 ~\n: 78 2 9 ment\nE\n: 90 1 1  ignored\n"
    assert real_corpus.ultrastar_lyrics(song) == "Where did we go?\nWhen moment"
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/x.lyrics.ultrastar.txt").write_text(song)
    (tmp_path / "annotations/y.lyrics.txt").write_text("plain words\n")
    row = {"lyrics_published": "annotations/x.lyrics.ultrastar.txt"}
    assert real_corpus.published_lyrics(row, tmp_path).startswith("Where")
    assert real_corpus.published_lyrics({"lyrics_published": "annotations/y.lyrics.txt"}, tmp_path) == "plain words"
    assert real_corpus.published_lyrics({"lyrics_published": ""}, tmp_path) is None


def test_released_text_is_checked_against_the_labels_not_the_facts(tmp_path):
    # benchmarks/real_benchmark.py --released: an invented voice, lyric or instrument on a labelled
    # recording is contradicted; a claim the labels cannot judge stays unverifiable.
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import real_benchmark as rb
    from musicflamingo.data import factcheck as fc

    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/song.txt").write_text("hello darkness my old friend\n")
    solo = {"vocals": "instrumental", "instrument": "trumpet", "solo_instrument": "1", "lyrics_published": "", "duration_s": 5.0}
    sung = {"vocals": "sung", "instrument": "", "solo_instrument": "0", "lyrics_published": "annotations/song.txt", "duration_s": 5.0}
    band = {"vocals": "unknown", "instrument": "string orchestra", "solo_instrument": "0", "lyrics_published": "", "duration_s": 5.0}

    def verdicts(row, text):
        facts, tags = rb.label_facts(row, tmp_path)
        return {(v.kind, v.claim): v.verdict for v in fc.check_text(text, facts, tags, strict=False)}

    got = verdicts(solo, "It is played on trumpet. It is played on piano. A singing voice is present. The words 'hello' are sung.")
    assert got == {("instrument", "trumpet"): "supported", ("instrument", "piano"): "contradicted",
                   ("vocals", "vocals"): "contradicted", ("lyric", "hello"): "contradicted"}
    got = verdicts(sung, "A singing voice is present. The words 'darkness' are sung. The words 'banana' are sung.")
    assert got == {("vocals", "vocals"): "supported", ("lyric", "darkness"): "supported", ("lyric", "banana"): "contradicted"}
    got = verdicts(band, "It is played on piano. A singing voice is present.")
    assert set(got.values()) == {"unverifiable"}  # no complete instrument label, no vocal label
