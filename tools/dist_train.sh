#!/usr/bin/env bash
# Multi-process training with torchrun: one process per GPU (or per CPU
# worker where there is no GPU; gloo is then chosen automatically).
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
. "$(dirname "$0")/_launcher.sh"
need_args 2 'CONFIG GPUS [tools/train.py arguments]' "$@"
# CONFIG=$1 GPUS=$2
torchrun_tool "$2" train.py "$1" --launcher pytorch "${@:3}"
