"""Single-process distributed setup for DeepSpeed on a CPU, on loopback only.

Contract:
- `single_process_group(scratch)` is a context manager that makes this
  process rank 0 of a world of 1 (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
  `MASTER_ADDR=127.0.0.1`, `MASTER_PORT` = a free loopback port) and, when
  no process group exists yet, initialises one (gloo on a CPU, nccl on one
  GPU) through a `file://` rendezvous in `scratch`. A file rendezvous opens
  no TCPStore, so nothing listens on any interface (the default `env://`
  store listens on all of them); gloo itself binds to
  `GLOO_SOCKET_IFNAME=lo`. On exit it restores the environment; the group
  stays for the life of the process (DeepSpeed caches it) and is destroyed
  at exit.
- When a launcher (`deepspeed`, `torchrun`) already set `RANK`/`WORLD_SIZE`,
  it does nothing: the launcher owns the rendezvous.
- `deepspeed_config(ds_cfg)` turns `cfg.deepspeed` into the dict
  for `TrainingArguments(deepspeed=...)`. The optimizer is left to the Trainer
  (torch AdamW + `zero_allow_untested_optimizer`) unless the config names one,
  so the DeepSpeed CPU-Adam extension is not compiled by default.
"""

from __future__ import annotations

import atexit
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from musicflamingo.env import temporary



def free_loopback_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the socket is closed before returning)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launched_externally() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def _ensure_group(scratch: Path, backend: str) -> None:
    """Create this process's one-rank group once; it lives until the process exits.

    DeepSpeed caches its communication groups in module globals, so a group
    destroyed after one run would break the next run in the same process.
    """
    if torch.distributed.is_initialized():
        return
    scratch.mkdir(parents=True, exist_ok=True)
    rendezvous = scratch / f"rendezvous-{os.getpid()}"
    rendezvous.unlink(missing_ok=True)  # a stale file from a killed run would block the rendezvous
    torch.distributed.init_process_group(backend, init_method=rendezvous.as_uri(), rank=0, world_size=1)

    def _close() -> None:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        rendezvous.unlink(missing_ok=True)

    atexit.register(_close)


@contextmanager
def single_process_group(scratch: Path, backend: str = "gloo") -> Iterator[None]:
    """Rank 0 of 1 with a `backend` group over a file rendezvous (see module docstring)."""
    if launched_externally():
        yield
        return
    with temporary(
        RANK="0",
        WORLD_SIZE="1",
        LOCAL_RANK="0",
        LOCAL_WORLD_SIZE="1",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(free_loopback_port()),
        GLOO_SOCKET_IFNAME="lo",
    ):
        _ensure_group(Path(scratch), backend)
        yield


@contextmanager
def isolated_accelerate_state() -> Iterator[None]:
    """Run one Trainer with fresh accelerate state, and leave none behind.

    accelerate keeps process-wide state (a singleton) and sets
    `ACCELERATE_USE_DEEPSPEED=true` for good once DeepSpeed was used; a plain
    Trainer run later in the same process would then look for MPI. Both are
    reset on entry and restored on exit.
    """
    from accelerate.state import AcceleratorState

    saved = {k: v for k, v in os.environ.items() if k.startswith("ACCELERATE_")}
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        yield
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
        for k in [k for k in os.environ if k.startswith("ACCELERATE_")]:
            del os.environ[k]
        os.environ.update(saved)


def prime_cpu_deepspeed_state() -> None:
    """Set up accelerate's process state for DeepSpeed on CPUs before TrainingArguments does.

    For DeepSpeed, TrainingArguments passes no backend to accelerate, which
    then finds no GPU backend and reports a world of 1 on every rank (so the
    "auto" batch sizes are wrong with 2+ CPU ranks). Creating the shared
    PartialState first with the gloo backend gives it the real world size
    and rank from the process group; TrainingArguments reuses it. Call inside
    `isolated_accelerate_state()`.
    """
    from accelerate.state import PartialState

    with temporary(ACCELERATE_USE_DEEPSPEED="true"):
        PartialState(backend="gloo")


def bf16_available() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def resolve_bf16(setting) -> bool:
    """`bf16: auto` means on exactly when a CUDA device with bf16 is present."""
    if isinstance(setting, str) and setting.lower() == "auto":
        return bf16_available()
    return bool(setting)


def deepspeed_config(ds_cfg) -> dict:
    """The DeepSpeed dict for the HF integration (its "auto" values are filled by the Trainer)."""
    from omegaconf import OmegaConf

    conf = OmegaConf.to_container(ds_cfg, resolve=True) if not isinstance(ds_cfg, dict) else dict(ds_cfg)
    # Without an "optimizer" section the Trainer builds torch AdamW, which ZeRO
    # accepts only with this flag; a DeepSpeed optimizer would JIT-build CPU-Adam.
    conf.setdefault("zero_allow_untested_optimizer", True)
    return conf
