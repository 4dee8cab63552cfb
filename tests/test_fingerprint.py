"""The one folder fingerprint (`io.folder_fingerprint`): DVC's directory hash, content only."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from musicflamingo.evaluation.predict import checkpoint_hash
from musicflamingo.io import folder_fingerprint


def test_dvc_directory_hash_content_only(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 3000)
    (tmp_path / "sub" / "config.json").write_text("{}")
    entries = [{"md5": hashlib.md5(b"\x00" * 3000).hexdigest(), "relpath": "model.safetensors"},
               {"md5": hashlib.md5(b"{}").hexdigest(), "relpath": "sub/config.json"}]
    want = hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"
    assert folder_fingerprint(tmp_path) == want and checkpoint_hash(tmp_path) == want[:16]
    os.utime(tmp_path / "model.safetensors", (1, 1))  # a checkout that only touches mtimes changes nothing
    assert folder_fingerprint(tmp_path) == want
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 2999 + b"\x01")  # one byte at the end does
    assert folder_fingerprint(tmp_path) != want
    with pytest.raises(FileNotFoundError, match="not a folder"):
        folder_fingerprint(tmp_path / "missing")


def test_lineage_hash_of_an_input_never_built(tmp_path):
    from musicflamingo import tracking

    (tmp_path / "models/sft").mkdir(parents=True)
    assert tracking.dvc_md5(tmp_path, "models/sft") == (folder_fingerprint(tmp_path / "models/sft"), "computed")
    assert tracking.dvc_md5(tmp_path, "models/grpo") == (tracking.EMPTY_DIR_MD5, "absent")
    assert tracking.EMPTY_DIR_MD5 == folder_fingerprint(tmp_path / "models/sft")  # DVC's hash of an empty folder
