"""Local multi-process launch on loopback: N ranks of one training job on this machine.

For CPU smoke runs and tests of ZeRO-2/3 with more than one rank (gloo). On
GPUs and clusters the real launchers (`deepspeed`, `accelerate launch`,
`torchrun` under Slurm or Kubernetes, see `infra/train/`) set RANK /
WORLD_SIZE themselves and the stage code leaves the rendezvous to them.

Contract:
- `spawn(job, world_size, scratch, timeout_s)` starts `world_size` processes
  (spawn start method). Each sets RANK, LOCAL_RANK, WORLD_SIZE,
  LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, GLOO_SOCKET_IFNAME=lo, joins a
  gloo group through a `file://` rendezvous in `scratch` (no TCP store
  listens anywhere) and runs `train_supervised` with the job's arguments.
  Rank 0's summary (a dict) is returned. A rank that fails or a job that
  runs past `timeout_s` raises RuntimeError naming the rank and its error;
  all ranks are then terminated.
- `job` is plain data: {"cfg": dict, "stage": str, "model_dir", "train",
  "heldout" (record lists), "root", "out_dir", "checkpoint_dir"}.
"""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path


def _rank_main(rank: int, world_size: int, rendezvous: str, job: dict, result_dir: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        GLOO_SOCKET_IFNAME="lo",
    )
    out = Path(result_dir) / f"rank{rank}.json"
    try:
        import torch
        from omegaconf import OmegaConf

        from musicflamingo.train.sft import train_supervised

        torch.set_num_threads(1)  # N ranks share the cores
        torch.distributed.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world_size)
        summary = train_supervised(
            OmegaConf.create(job["cfg"]),
            job["stage"],
            Path(job["model_dir"]),
            job["train"],
            job["heldout"],
            Path(job["root"]),
            Path(job["out_dir"]),
            Path(job["checkpoint_dir"]),
            log=lambda m: None,
        )
        out.write_text(json.dumps({"ok": True, "summary": summary}))
    except BaseException as e:  # reported to the parent, which raises
        out.write_text(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}))
        raise
    finally:
        import torch

        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def spawn(job: dict, world_size: int, scratch: Path, timeout_s: float = 900.0) -> dict:
    import torch.multiprocessing as mp

    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    rendezvous = scratch / "rendezvous"
    rendezvous.unlink(missing_ok=True)  # a stale file from a killed run would block the rendezvous
    ctx = mp.start_processes(
        _rank_main,
        args=(world_size, rendezvous.as_uri(), job, str(scratch)),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )
    import time

    deadline = time.monotonic() + timeout_s
    try:
        while not ctx.join(timeout=1.0):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{world_size}-rank job ran past {timeout_s:.0f} s")
    except mp.ProcessRaisedException as e:
        raise RuntimeError(_errors(scratch, world_size) or str(e)) from e
    except mp.ProcessExitedException as e:
        raise RuntimeError(_errors(scratch, world_size) or str(e)) from e
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
    result = json.loads((scratch / "rank0.json").read_text())
    if not result["ok"]:
        raise RuntimeError(f"rank 0: {result['error']}")
    return result["summary"]


def _errors(scratch: Path, world_size: int) -> str:
    msgs = []
    for r in range(world_size):
        f = scratch / f"rank{r}.json"
        if f.is_file():
            res = json.loads(f.read_text())
            if not res["ok"]:
                msgs.append(f"rank {r}: {res['error']}\n{res['trace'][-2000:]}")
    return "\n".join(msgs)
