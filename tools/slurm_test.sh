#!/usr/bin/env bash
# Evaluation on a Slurm cluster, one task per GPU.
#   [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# Also GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, MASTER_PORT (see
# tools/_launcher.sh).
set -euo pipefail
. "$(dirname "$0")/_launcher.sh"
need_args 4 'PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py arguments]' "$@"
# PARTITION=$1 JOB_NAME=$2 CONFIG=$3 CHECKPOINT=$4
srun_tool "$1" "$2" test.py "$3" "$4" --launcher slurm "${@:5}"
