#!/usr/bin/env bash
# Multi-process evaluation with torchrun.
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
. "$(dirname "$0")/_launcher.sh"
need_args 3 'CONFIG CHECKPOINT GPUS [tools/test.py arguments]' "$@"
# CONFIG=$1 CHECKPOINT=$2 GPUS=$3
torchrun_tool "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
