#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU.
#   [GPUS=16 GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# Also CPUS_PER_TASK, SRUN_ARGS, MASTER_PORT (see tools/_launcher.sh).
set -euo pipefail
. "$(dirname "$0")/_launcher.sh"
need_args 3 'PARTITION JOB_NAME CONFIG [tools/train.py arguments]' "$@"
# PARTITION=$1 JOB_NAME=$2 CONFIG=$3
srun_tool "$1" "$2" train.py "$3" --launcher slurm "${@:4}"
