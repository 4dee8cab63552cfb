#!/usr/bin/env bash
# GPU smoke check (<= 5 min): a bf16 ZeRO-3 step at the 8B Music Flamingo shape (tokens/s, MFU)
# and 20 audio-aware GRPO steps at a mid-size shape. Random weights built from config;
# nothing is downloaded. On a machine without CUDA it says so and exits 0.
#   bash benchmarks/gpu_check.sh [extra args for benchmarks/gpu_check.py]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export MASTER_ADDR=127.0.0.1 GLOO_SOCKET_IFNAME=lo NCCL_SOCKET_IFNAME=lo
export TORCH_EXTENSIONS_DIR=${TORCH_EXTENSIONS_DIR:-$PWD/.cache/torch_extensions}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu_check: no CUDA GPU on this machine; skipped (nothing to measure on CPU)."
  exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 290 "$PY" benchmarks/gpu_check.py "$@"
