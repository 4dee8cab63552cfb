"""CTranslate2's binary model spec, read with numpy (no ctranslate2 import, no network).

`read_ctranslate2(path)` -> `(spec_name, {variable name: np.ndarray})` for a
`model.bin` of binary version >= 4: uint32 version, spec name, uint32
revision, uint32 variable count, then per variable name / uint8 rank /
uint32 dims / uint8 dtype / uint32 byte count / data (aliases follow and
are not needed). Raises ValueError on an unknown dtype, a truncated file,
or a file over `max_bytes`. Used to port Whisper tiny.en's encoder
(`model.whisper_tower`); where the file comes from and how it is verified
is `musicflamingo.whisper_weights`.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# CTranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


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
