# Shared by the launchers tools/dist_{train,test}.sh and
# tools/slurm_{train,test}.sh (sourced, not run): the argument check and the
# two ways of starting tools/train.py or tools/test.py, written once.
#
# torchrun (dist_*.sh): NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1)
# and PORT (29500) for several nodes. Slurm (slurm_*.sh): GPUS (8),
# GPUS_PER_NODE (8), CPUS_PER_TASK (8), SRUN_ARGS (extra srun options) and
# MASTER_PORT (random in 12000-31999). Both: PYTHON (python).

# The tools folder; the repository above it goes on PYTHONPATH.
TOOLS_DIR=$(dirname "$0")

# need_args COUNT USAGE ARGS...: exit 2 with "usage: SCRIPT USAGE" unless
# ARGS holds at least COUNT words.
need_args() {
    local count=$1 usage=$2
    shift 2
    if [ $# -lt "$count" ]; then
        echo "usage: $0 $usage" >&2
        exit 2
    fi
}

# torchrun_tool GPUS TOOL ARGS...: TOOL (train.py, test.py) with ARGS, one
# process per GPU on this node, through torch.distributed.run.
torchrun_tool() {
    local gpus=$1 tool=$2
    shift 2
    PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
    "${PYTHON:-python}" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$gpus" \
        --master_port="${PORT:-29500}" \
        "$TOOLS_DIR/$tool" "$@"
}

# srun_tool PARTITION JOB_NAME TOOL ARGS...: TOOL with ARGS as a Slurm job
# step, one task per GPU.
srun_tool() {
    local partition=$1 job_name=$2 tool=$3
    shift 3
    export MASTER_PORT=${MASTER_PORT:-$((12000 + RANDOM % 20000))}
    local gpus_per_node=${GPUS_PER_NODE:-8}
    # SRUN_ARGS is split into words on purpose (several options).
    # shellcheck disable=SC2086
    PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
    srun -p "$partition" \
        --job-name="$job_name" \
        --gres=gpu:"$gpus_per_node" \
        --ntasks="${GPUS:-8}" \
        --ntasks-per-node="$gpus_per_node" \
        --cpus-per-task="${CPUS_PER_TASK:-8}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "${PYTHON:-python}" -u "$TOOLS_DIR/$tool" "$@"
}
