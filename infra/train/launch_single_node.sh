#!/usr/bin/env bash
# One training stage on every GPU of this node, under the `deepspeed` launcher (default)
# or `accelerate launch`. The stage code is the same as on a CPU; only the launcher differs.
#   infra/train/launch_single_node.sh sft                  # all visible GPUs, ZeRO from params.yaml
#   LAUNCHER=accelerate GPUS=4 infra/train/launch_single_node.sh coldstart
# Set params first, e.g.: musicflamingo configure model=music_flamingo deepspeed=zero3
set -euo pipefail
STAGE=${1:?usage: launch_single_node.sh <backbone|sft|coldstart> [extra args]}
shift
cd "$(dirname "$0")/../.."
GPUS=${GPUS:-$(nvidia-smi -L 2>/dev/null | wc -l)}
[ "${GPUS}" -ge 1 ] || { echo "no GPU found (set GPUS=N)"; exit 2; }
eval "$(.venv/bin/musicflamingo env)"          # MLflow/DVC/caches under the project root
export MASTER_ADDR=127.0.0.1                     # single node: rendezvous on loopback only
export MASTER_PORT=${MASTER_PORT:-29513}
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo} GLOO_SOCKET_IFNAME=lo
ENTRY=$(command -v musicflamingo || echo .venv/bin/musicflamingo)
case "${LAUNCHER:-deepspeed}" in
  deepspeed)
    exec deepspeed --num_gpus "${GPUS}" --master_addr 127.0.0.1 --master_port "${MASTER_PORT}" \
      --no_local_rank "${ENTRY}" stage "${STAGE}" "$@" ;;
  accelerate)
    exec accelerate launch --num_processes "${GPUS}" --num_machines 1 --main_process_ip 127.0.0.1 \
      --main_process_port "${MASTER_PORT}" --use_deepspeed "${ENTRY}" stage "${STAGE}" "$@" ;;
  *) echo "LAUNCHER must be deepspeed or accelerate"; exit 2 ;;
esac
