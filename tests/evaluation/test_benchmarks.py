"""Benchmark adapters on small hand-written files in the published layouts (tests/fixtures/benchmarks).

Audio is generated per test in tmp_path (tiny tones), so missing and corrupt
files can be arranged exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicflamingo.evaluation import paper
from musicflamingo.evaluation.benchmarks import ADAPTERS, BenchItem, load_benchmark, render_prompt
from musicflamingo.evaluation.benchmarks.base import probe_audio
from musicflamingo.evaluation.benchmarks.gtzan import GENRES
from musicflamingo.evaluation.benchmarks.medley_solos import INSTRUMENTS
from musicflamingo.evaluation.benchmarks.muchomusic import shuffle_order
from musicflamingo.evaluation.benchmarks.nsynth import FAMILIES, SOURCES

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "benchmarks"


def tone(path: Path, fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(800) / 8000
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000, format=fmt)
    return path


def copy_fixture(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIX / name, dst)
    return dst


# ------------------------------------------------------------------ base


def test_missing_annotation_file_names_the_config_key(tmp_path):
    for name in ("muchomusic", "mmau", "mmau_pro", "mmar", "nsynth_family", "medley_solos_db", "opencpop",
                 "musdb18_lyrics"):
        with pytest.raises(FileNotFoundError, match="'annotations'"):
            load_benchmark(name, {"annotations": str(tmp_path / "nope.json")})
    with pytest.raises(ValueError, match="'annotations' is required"):
        load_benchmark("mmau", {})
    with pytest.raises(FileNotFoundError, match="'audio_root'"):
        load_benchmark("gtzan", {"audio_root": str(tmp_path / "no_genres")})


def test_probe_audio_reasons(tmp_path):
    assert probe_audio(tone(tmp_path / "ok.wav")) is None
    assert probe_audio(tmp_path / "absent.wav") == "missing"
    (tmp_path / "empty.wav").write_bytes(b"")
    assert probe_audio(tmp_path / "empty.wav") == "empty file"
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00not really a wave file at all")
    assert probe_audio(tmp_path / "junk.wav").startswith("unreadable")
    assert probe_audio(tmp_path / "junk.wav", "exists") is None


def test_bench_item_validates_kind():
    with pytest.raises(ValueError):
        BenchItem("x", "1", ["a.wav"], "q", ["a"], "a", kind="essay")
    with pytest.raises(ValueError):
        BenchItem("x", "1", ["a.wav"], "q", None, "a", kind="mcq")


# ------------------------------------------------------------------ MuChoMusic


def _mucho_audio(root: Path) -> None:
    tone(root / "sdd/audio/00/415600.2min.mp3", fmt="MP3")  # official layout: Jamendo dir = id % 100
    tone(root / "musiccaps/audio/[abcDEF12345]-[30-40].wav")
    tone(root / "musiccaps/audio/[zzTOP987654]-[0-10].wav")
    # 1051203.json -> sdd/audio/03/1051203.2min.mp3 is deliberately absent.


def test_muchomusic_loads_official_layout_and_counts_missing_audio(tmp_path):
    d = copy_fixture("muchomusic", tmp_path)
    _mucho_audio(d)
    cfg = {"annotations": str(d / "muchomusic.csv"), "musiccaps_metadata": str(d / "musiccaps-public.csv"), "seed": 3}
    res = load_benchmark("muchomusic", cfg)
    assert [it.id for it in res.items] == ["0", "2", "3"]
    assert len(res.missing_audio) == 1
    miss = res.missing_audio[0]
    assert miss["reason"] == "missing" and miss["id"] == "1"
    assert miss["path"].endswith("sdd/audio/03/1051203.2min.mp3")
    first = res.items[0]
    assert first.kind == "mcq" and len(first.options) == 4
    assert first.options[first.meta["answer_index"]] == first.answer == "Off-beat syncopation"
    assert first.meta["option_order"] == shuffle_order(4, 3, "0")
    assert first.meta["shuffle_seed"] == 3
    assert first.meta["genre"] == "Reggae"
    assert first.meta["music_reasoning"] == ["genre and style"] and first.meta["music_knowledge"] == []
    mc = res.items[1]
    assert mc.meta["music_reasoning"] == ["temporal relations", "structure"]
    assert mc.audio_paths[0].endswith("musiccaps/audio/[abcDEF12345]-[30-40].wav")
    assert res.items[2].meta["genre"] == "" and res.items[2].meta["music_knowledge"] == []


def test_muchomusic_shuffle_is_reproducible_and_seeded(tmp_path):
    d = copy_fixture("muchomusic", tmp_path)
    _mucho_audio(d)
    base = {"annotations": str(d / "muchomusic.csv"), "musiccaps_metadata": str(d / "musiccaps-public.csv")}
    a = load_benchmark("muchomusic", {**base, "seed": 0}).items
    b = load_benchmark("muchomusic", {**base, "seed": 0}).items
    assert [it.options for it in a] == [it.options for it in b]
    orders = {tuple(tuple(it.meta["option_order"]) for it in load_benchmark("muchomusic", {**base, "seed": s}).items)
              for s in range(6)}
    assert len(orders) > 1  # the seed actually changes the order
    for it in a:
        assert sorted(it.meta["option_order"]) == [0, 1, 2, 3]


def test_muchomusic_template_needs_musiccaps_metadata_or_override(tmp_path):
    d = copy_fixture("muchomusic", tmp_path)
    with pytest.raises(ValueError, match="musiccaps_metadata"):
        load_benchmark("muchomusic", {"annotations": str(d / "muchomusic.csv")})
    flat = {"sdd": "flat/{audio_id}.wav", "musiccaps": "flat/{audio_id}.wav"}
    tone(d / "flat/415600.wav")
    res = load_benchmark("muchomusic", {"annotations": str(d / "muchomusic.csv"), "audio_templates": flat})
    assert [it.id for it in res.items] == ["0"]
    assert len(res.missing_audio) == 3


# ------------------------------------------------------------------ MMAU / MMAU-Pro


def test_mmau_keeps_music_task_and_counts_missing(tmp_path):
    d = copy_fixture("mmau", tmp_path)
    tone(d / "test-mini-audios/m-0001.wav")
    res = load_benchmark("mmau", {"annotations": str(d / "mmau-test-mini.json")})
    assert [it.id for it in res.items] == ["m-0001"]
    assert [m["id"] for m in res.missing_audio] == ["m-0002"]
    assert res.skipped == {"task != music": 2}
    it = res.items[0]
    assert it.options == ["Jazz", "Heavy metal", "Country", "Reggae"] and it.answer == "Jazz"
    assert it.meta["sub-category"] == "Genre Identification" and it.meta["difficulty"] == "easy"
    assert it.audio_paths[0] == str(d / "test-mini-audios/m-0001.wav")


def _write_mmau_pro(d: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = json.loads((d / "test_rows.json").read_text())
    schema = pa.schema([
        ("id", pa.string()), ("audio_path", pa.list_(pa.string())), ("question", pa.string()),
        ("answer", pa.string()), ("choices", pa.list_(pa.string())), ("length_type", pa.string()),
        ("perceptual_skills", pa.list_(pa.string())), ("reasoning_skills", pa.list_(pa.string())),
        ("category", pa.string()), ("transcription", pa.string()), ("task_classification", pa.string()),
        ("task_identifier", pa.string()), ("kwargs", pa.string()), ("sub-cat", pa.string()),
    ])
    path = d / "test.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def test_mmau_pro_music_subset_multi_audio_from_parquet(tmp_path):
    d = copy_fixture("mmau_pro", tmp_path)
    path = _write_mmau_pro(d)
    tone(d / "data/pro-m1.wav")
    tone(d / "data/pro-m2a.wav")
    tone(d / "data/pro-m2b.wav")
    res = load_benchmark("mmau_pro", {"annotations": str(path)})
    assert [it.id for it in res.items] == ["pro-m1", "pro-m2"]
    multi = res.items[1]
    assert len(multi.audio_paths) == 2 and multi.options == ["The first clip", "The second clip"]
    assert res.items[0].meta["perceptual_skills"] == ["rhythm"] and res.items[0].meta["sub-cat"] == "music theory"
    assert res.skipped == {"open-ended (no choices)": 1, "category not selected": 1, "no answer": 1}
    assert res.missing_audio == []
    # One missing clip of a multi-audio question drops the question and reports that clip only.
    (d / "data/pro-m2b.wav").unlink()
    res = load_benchmark("mmau_pro", {"annotations": str(path)})
    assert [it.id for it in res.items] == ["pro-m1"]
    assert [Path(m["path"]).name for m in res.missing_audio] == ["pro-m2b.wav"]


# ------------------------------------------------------------------ MMAR


@pytest.mark.parametrize("as_jsonl", [False, True])
def test_mmar_music_modalities_json_and_jsonl(tmp_path, as_jsonl):
    d = copy_fixture("mmar", tmp_path)
    meta = d / "MMAR-meta.json"
    if as_jsonl:
        rows = json.loads(meta.read_text())
        meta = d / "MMAR-meta.jsonl"
        meta.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for i in (1, 2, 4, 5):
        tone(d / f"audio/mmar-00{i}.wav")
    res = load_benchmark("mmar", {"annotations": str(meta)})
    assert [it.id for it in res.items] == ["mmar-001", "mmar-002"]
    assert [m["id"] for m in res.missing_audio] == ["mmar-003"]
    assert res.skipped == {"modality without music": 2}
    assert res.items[0].meta["modality"] == "mix-sound-music"
    assert res.items[1].meta["audio_language"] == "en"


# ------------------------------------------------------------------ classification


def test_gtzan_folder_layout_and_corrupt_file(tmp_path):
    root = tmp_path / "genres_original"
    for g in GENRES:
        tone(root / g / f"{g}.00000.wav")
    (root / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk")  # the known-corrupt file
    (root / "rock" / "notes.txt").write_text("not audio")
    res = load_benchmark("gtzan", {"audio_root": str(root)})
    assert len(res.items) == 10
    assert [m["id"] for m in res.missing_audio] == ["jazz/jazz.00054"]
    assert res.missing_audio[0]["reason"].startswith("unreadable")
    it = res.items[0]
    assert it.kind == "classification" and it.options == list(GENRES) and it.answer == "blues"
    assert "hip hop" in it.meta["label_synonyms"]["hiphop"]
    assert paper.chance_level("gtzan") == pytest.approx(0.1)


def test_gtzan_split_file_counts_listed_but_missing_files(tmp_path):
    root = tmp_path / "genres"
    tone(root / "blues/blues.00012.wav")
    tone(root / "rock/rock.00003.wav")
    (root / "jazz").mkdir()
    (root / "jazz/jazz.00054.wav").write_bytes(b"")
    res = load_benchmark("gtzan", {"audio_root": str(root), "annotations": str(FIX / "gtzan/test_filtered.txt")})
    assert [it.id for it in res.items] == ["blues/blues.00012", "rock/rock.00003"]
    assert {m["id"]: m["reason"] for m in res.missing_audio} == {"jazz/jazz.00054": "empty file",
                                                                  "pop/pop.00001": "missing"}


@pytest.mark.parametrize("task,labels", [("family", FAMILIES), ("source", SOURCES)])
def test_nsynth_two_tasks(tmp_path, task, labels):
    d = copy_fixture("nsynth", tmp_path)
    tone(d / "audio/bass_synthetic_033-022-050.wav")
    tone(d / "audio/guitar_acoustic_010-060-075.wav")
    res = load_benchmark(f"nsynth_{task}", {"annotations": str(d / "examples.json")})
    assert [it.id for it in res.items] == ["bass_synthetic_033-022-050", "guitar_acoustic_010-060-075"]
    assert [m["id"] for m in res.missing_audio] == ["keyboard_electronic_001-021-127"]
    assert all(it.options == list(labels) for it in res.items)
    expected = {"family": ["bass", "guitar"], "source": ["synthetic", "acoustic"]}[task]
    assert [it.answer for it in res.items] == expected
    assert res.items[0].benchmark == f"nsynth_{task}"


def test_medley_solos_test_subset_and_file_names(tmp_path):
    d = copy_fixture("medley_solos_db", tmp_path)
    audio = tmp_path / "audio"
    tone(audio / "Medley-solos-DB_test-0_0e4371ac-1c6a-51ab-fdb7-f8abd5fbf1a3.wav")
    tone(audio / "Medley-solos-DB_test-7_33383119-fd64-59c1-f596-d1a23e8a0eff.wav")
    cfg = {"annotations": str(d / "Medley-solos-DB_metadata.csv"), "audio_root": str(audio)}
    res = load_benchmark("medley_solos_db", cfg)
    assert [it.answer for it in res.items] == ["clarinet", "violin"]
    assert [m["id"] for m in res.missing_audio] == ["5a8f2b6e-8d1c-4c4e-9b0a-7f3e2d1c0b9a"]
    assert res.skipped == {"subset != test": 2}
    assert res.items[0].options == list(INSTRUMENTS) and len(INSTRUMENTS) == 8
    assert len(load_benchmark("medley_solos_db", {**cfg, "subset": None, "audio_check": "exists"}).missing_audio) == 3


# ------------------------------------------------------------------ lyrics


def test_opencpop_published_line_format(tmp_path):
    seg = tmp_path / "Opencpop/segments"
    seg.mkdir(parents=True)
    shutil.copy(FIX / "opencpop/test.txt", seg / "test.txt")
    tone(seg / "wavs/2001000001.wav")
    tone(seg / "wavs/2001000003.wav")
    res = load_benchmark("opencpop", {"annotations": str(seg / "test.txt")})
    assert [(it.id, it.answer) for it in res.items] == [("2001000001", "我们一起唱歌"), ("2001000003", "你好")]
    assert all(it.language == "zh" and it.kind == "asr" and it.options is None for it in res.items)
    assert [m["id"] for m in res.missing_audio] == ["2001000002"]


@pytest.mark.parametrize("manifest", ["manifest.jsonl", "manifest.csv"])
def test_musdb18_lyrics_manifest(tmp_path, manifest):
    d = copy_fixture("musdb18_lyrics", tmp_path)
    tone(d / "test/Track 01/vocals_000.wav")
    res = load_benchmark("musdb18_lyrics", {"annotations": str(d / manifest)})
    assert [it.answer for it in res.items] == ["Walking down the road with 2 old friends"]
    assert res.items[0].language == "en"
    assert len(res.missing_audio) == (2 if manifest.endswith("jsonl") else 1)


# ------------------------------------------------------------------ registry / prompts


def test_limit_caps_candidates(tmp_path):
    d = copy_fixture("mmau", tmp_path)
    res = load_benchmark("mmau", {"annotations": str(d / "mmau-test-mini.json"), "limit": 1})
    assert len(res.items) + len(res.missing_audio) == 1


def test_registry_names_match_paper_rows_and_prompts_render():
    for name in ADAPTERS:
        assert paper.reference(name, "test-mini" if name == "mmau" else None) is not None, name
    it = BenchItem("muchomusic", "0", ["x.wav"], "Which?", ["x", "y", "z", "w"], "y", kind="mcq")
    assert render_prompt(it) == "Question: Which?\nOptions: (A) x (B) y (C) z (D) w\nThe correct answer is: "
    mmau = BenchItem("mmau", "0", ["x.wav"], "Which?", ["x y", "z"], "z", kind="mcq")
    assert render_prompt(mmau) == "Which?\nChoices: x y; z\nAnswer with the exact text of one choice."
    cls = BenchItem("gtzan", "0", ["x.wav"], "Genre?", ["pop", "rock"], "pop", kind="classification")
    assert render_prompt(cls).endswith("one of: pop, rock.")
