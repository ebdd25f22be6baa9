#!/usr/bin/env bash
# Every GPU measurement of issue 18 in one call, within 8 minutes, on a bare
# GPU machine (one H100/H200, 16 cores, torch + numpy + opencv, no registry):
#
#   bash tools/gpu_report.sh                      # on the GPU machine
#   (device tool: carry ['.whl'], timeout_s 540, e.g.
#    `bash tools/gpu_report.sh 2>&1 | tee $OUT/gpu_report.log`)
#   GPU_REPORT_DRY_RUN=1 bash tools/gpu_report.sh # anywhere: CPU, tiny shapes
#
# Steps, each under `timeout` and a time budget for the whole script
# (GPU_REPORT_BUDGET_S, default 450 s; a step that no longer fits is skipped
# and marked so in the summary):
#   1. installs the OpenMMLab wheels carried in the working tree (.whl/, made
#      by shared/tools/offline-wheels.sh) into a site dir on PYTHONPATH,
#      unless mmengine, mmcv, mmaction, mmpretrain and decord are importable;
#   2. writes the machine's facts (GPU, driver, torch, CUDA, cuDNN, package
#      versions; nvidia-smi's output) to $OUT/machine.json, $OUT/machine.txt;
#   3. runs each measurement of issue 18 item 2 with tools/benchmark.py --json
#      (VideoMAE ViT-B/16, 16 frames x 224, tubelet 2, bf16; one process per
#      measurement, targets first, then the levers on / off);
#   4. issue 18 item 4: one short tools/train.py run of
#      configs/adaptformer_ssv2.py (bf16 AMP, --amp) on synthetic clips
#      written by adaptformer_mm.datasets.synthetic (as plain mmaction2
#      VideoDataset lists), a few dozen iterations, whose logged iteration time
#      is compared with the benchmark's step time (within 15%?);
#   5. prints the summary table (targets, levers, Runner vs benchmark).
#
# Levers of issue 18 item 2 that tools/benchmark.py cannot set today (NOT
# measured here; each needs an option first):
#   - frozen weights stored in bf16 once (no fp32 copy cast by autocast at
#     every step);
#   - the SDPA backend (cuDNN / flash attention) chosen explicitly;
#   - CUDA graphs: torch.compile mode 'reduce-overhead' / 'max-autotune'
#     (--compile takes a backend only, no mode).
# Levers measured here through existing options: torch.compile (--compile),
# fused attention (model.backbone.attn_impl sdpa / eager), no backward
# through the patch embedding (model.backbone.skip_frozen_grad), activation
# checkpointing (model.backbone.with_cp), fused AdamW / fused SGD
# (optim_wrapper.optimizer.fused).
#
# What comes back from $OUT (the device tool returns at most 8 files, at most
# 2 folders down): machine.txt, machine.json, summary.txt, gpu_report.json
# (machine facts, every measurement's JSON, step statuses, targets, levers,
# the Runner comparison) and gpu_report.tar.gz (the per-measurement JSONs as
# benchmark.py wrote them, under benchmarks/gpu/, ready for
# docs/benchmarks/gpu/; every step's log; the Runner's log and scalars).
# The per-measurement JSONs and logs themselves are written 3 folders down
# ($OUT/bundle/benchmarks/gpu/NAME.json, $OUT/bundle/logs/...), where the
# device tool leaves them, so that the five files above always come back.
#
# Environment knobs (defaults: GPU run / dry run):
#   OUT                    results folder (default: a new temp dir)
#   PYTHON                 interpreter (python3)
#   GPU_REPORT_DRY_RUN=1   --device cpu, frames 4, size 32, batches 2, 1 step,
#                          a 2-block 32-wide ViT, compile backend eager, the
#                          Runner for 2 iterations without --amp
#   GPU_REPORT_ONLY        regex: run only the steps whose name matches
#                          (e.g. '^(adaptformer_b32|runner)$'; runner brings
#                          its runner_data step; wheels and facts always run)
#   GPU_REPORT_LIST=1      print the plan (kind, name, argv; tab-separated)
#                          and exit without running anything
#   GPU_REPORT_BUDGET_S    seconds for all steps (450 / 3600)
#   GPU_REPORT_WORK        scratch (synthetic clips, the Runner's work dir;
#                          default: a temp dir, removed at the end)
#   GPU_REPORT_WHEELS      wheel folder (.whl); GPU_REPORT_SITE (/tmp/site)
#   GPU_REPORT_DEVICE, _FRAMES, _SIZE, _STEPS, _WARMUP, _AMP, _THREADS,
#   _COMPILE (backend: inductor / eager), _BIG_BATCH (32 / 2),
#   _SMALL_BATCH (8 / 2), _RUNNER_BATCH (32 / 2), _RUNNER_ITERS (40 / 2),
#   _RUNNER_WORKERS (12 / 0), _RUNNER_COMPILE=1 (Runner with
#   compile.backend=$GPU_REPORT_COMPILE, compared with the compiled benchmark)
set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
START=$SECONDS

DRY=${GPU_REPORT_DRY_RUN:-0}
[ "$DRY" = 0 ] || DRY=1
PY=${PYTHON:-python3}
ONLY=${GPU_REPORT_ONLY:-}
LIST=${GPU_REPORT_LIST:-0}
WHEELS=${GPU_REPORT_WHEELS:-$REPO/.whl}
SITE=${GPU_REPORT_SITE:-/tmp/site}
if [ "$DRY" = 1 ]; then
  d_device=cpu d_frames=4 d_size=32 d_steps=1 d_warmup=1 d_threads=1
  d_compile=eager d_big=2 d_small=2 d_rbatch=2 d_riters=2 d_rworkers=0
  d_budget=3600 d_min=1
  # A 2-block, 32-wide ViT: the same code paths in seconds on a CPU.
  TINY=(model.backbone.depth=2 model.backbone.embed_dims=32
        model.backbone.num_heads=2 model.cls_head.in_channels=32)
else
  d_device=cuda d_frames=16 d_size=224 d_steps=20 d_warmup=5 d_threads=
  d_compile=inductor d_big=32 d_small=8 d_rbatch=32 d_riters=40
  d_rworkers=12 d_budget=450 d_min=25
  TINY=()
fi
DEVICE=${GPU_REPORT_DEVICE:-$d_device}
FRAMES=${GPU_REPORT_FRAMES:-$d_frames}
SIZE=${GPU_REPORT_SIZE:-$d_size}
STEPS=${GPU_REPORT_STEPS:-$d_steps}
WARMUP=${GPU_REPORT_WARMUP:-$d_warmup}
AMP=${GPU_REPORT_AMP:-bf16}
THREADS=${GPU_REPORT_THREADS:-$d_threads}
COMPILE=${GPU_REPORT_COMPILE:-$d_compile}
BIG=${GPU_REPORT_BIG_BATCH:-$d_big}
SMALL=${GPU_REPORT_SMALL_BATCH:-$d_small}
RBATCH=${GPU_REPORT_RUNNER_BATCH:-$d_rbatch}
RITERS=${GPU_REPORT_RUNNER_ITERS:-$d_riters}
RWORKERS=${GPU_REPORT_RUNNER_WORKERS:-$d_rworkers}
RCOMPILE=${GPU_REPORT_RUNNER_COMPILE:-0}
BUDGET=${GPU_REPORT_BUDGET_S:-$d_budget}
RESERVE=15   # seconds kept for the summary and the bundle
MIN=$d_min   # a step starts only with at least MIN (x its weight) s left

ADAPT=configs/adaptformer_ssv2.py
FULL=configs/full_finetune/full-finetune_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py
LINEAR=configs/linear_probe/linear-probe_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py
VPT=configs/vpt/vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py
ADAMW=(optim_wrapper.optimizer._delete_=True optim_wrapper.optimizer.type=AdamW
       optim_wrapper.optimizer.lr=0.001 optim_wrapper.optimizer.weight_decay=0.05)

if [ "$LIST" = 1 ]; then
  OUT=${OUT:-/nonexistent-list-mode} WORK=${GPU_REPORT_WORK:-/nonexistent-list-mode}
else
  if [ -z "${OUT:-}" ]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/gpu_report_out.XXXXXX") || exit 2
  fi
  mkdir -p "$OUT" || exit 2
  OUT=$(cd "$OUT" && pwd)
  OWN_WORK=0
  if [ -z "${GPU_REPORT_WORK:-}" ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_report_work.XXXXXX") || exit 2
    OWN_WORK=1  # removed at the end: synthetic clips, the Runner's work dir
  else
    WORK=$GPU_REPORT_WORK
  fi
  mkdir -p "$WORK" || exit 2
  BUNDLE=$OUT/bundle
  JSON_DIR=$BUNDLE/benchmarks/gpu
  LOG_DIR=$BUNDLE/logs/steps
  RUN_LOG_DIR=$BUNDLE/logs/runner
  mkdir -p "$JSON_DIR" "$LOG_DIR" "$RUN_LOG_DIR" || exit 2
  STATUS=$WORK/status.tsv
  : > "$STATUS"
  export PYTHONUNBUFFERED=1
fi
JSON_DIR=${JSON_DIR:-$OUT/bundle/benchmarks/gpu}

log() { printf '[gpu_report %4ds] %s\n' $((SECONDS - START)) "$*"; }
wanted() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }

# run_step NAME LIMIT_S WEIGHT CMD...: CMD under `timeout`, capped by what is
# left of the budget; skipped when less than WEIGHT x MIN seconds are left.
run_step() {
  local name=$1 limit=$2 weight=$3
  shift 3
  # runner_data (the Runner's synthetic clips) goes with runner.
  wanted "${name%_data}" || return 0
  if [ "$LIST" = 1 ]; then
    (IFS=$'\t'; printf 'step\t%s\t%s\n' "$name" "$*")
    return 0
  fi
  local left=$((BUDGET - (SECONDS - START) - RESERVE))
  if ((left < weight * MIN)); then
    log "skip $name: ${left}s of the budget left"
    printf '%s\tskipped\t-\t0\t%s\n' "$name" "$*" >>"$STATUS"
    return 3
  fi
  ((limit > left)) && limit=$left
  log "run  $name (timeout ${limit}s)"
  local t0=$SECONDS rc=0 status=ok
  timeout -k 10 "$limit" "$@" >"$LOG_DIR/$name.log" 2>&1 || rc=$?
  if ((rc == 124 || rc == 137)); then status=timeout
  elif ((rc != 0)); then status=failed; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" $((SECONDS - t0)) \
    "$*" >>"$STATUS"
  if [ "$status" = ok ]; then
    log "     $name: ok in $((SECONDS - t0))s"
  else
    log "     $name: $status (rc $rc) after $((SECONDS - t0))s; log tail:"
    tail -n 20 "$LOG_DIR/$name.log" | sed 's/^/        /'
  fi
  return $rc
}

# bench NAME LIMIT_S WEIGHT CONFIG BATCH [ARGS...]: one tools/benchmark.py
# measurement; ARGS end with --cfg-options K=V... when there are any.
bench() {
  local name=$1 limit=$2 weight=$3 config=$4 batch=$5
  shift 5
  local args=(tools/benchmark.py "$config" --batch "$batch" --amp "$AMP"
    --steps "$STEPS" --warmup "$WARMUP" --device "$DEVICE"
    --frames "$FRAMES" --size "$SIZE" --json "$JSON_DIR/$name.json")
  [ -n "$THREADS" ] && args+=(--threads "$THREADS")
  args+=("$@")
  if ((${#TINY[@]})); then
    local has_opts=0 a
    for a in "$@"; do [ "$a" = --cfg-options ] && has_opts=1; done
    ((has_opts)) || args+=(--cfg-options)
    args+=("${TINY[@]}")
  fi
  if [ "$LIST" = 1 ]; then
    wanted "$name" || return 0
    (IFS=$'\t'; printf 'bench\t%s\t%s\n' "$name" "${args[*]:1}")
    return 0
  fi
  rm -f "$JSON_DIR/$name.json"  # never report a stale figure
  run_step "$name" "$limit" "$weight" "$PY" "${args[@]}"
}

# ---------------------------------------------------------------- 1. wheels
install_wheels() {
  if "$PY" - <<'EOF'; then
import importlib.util, sys
need = ('mmengine', 'mmcv', 'mmaction', 'mmpretrain', 'decord')
sys.exit(any(importlib.util.find_spec(m) is None for m in need))
EOF
    log "OpenMMLab packages already importable: no wheel install"
    return 0
  fi
  if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    log "ERROR: mmengine/mmcv/mmaction/mmpretrain/decord missing and no" \
      "wheels in $WHEELS (carry .whl; see shared/tools/offline-wheels.sh)"
    return 2
  fi
  log "installing $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS into $SITE"
  timeout -k 10 180 "$PY" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl || return $?
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
}

# ---------------------------------------------------------------- 2. facts
machine_facts() {
  {
    echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host cores: $(nproc)"
    echo "== nvidia-smi"
    if command -v nvidia-smi >/dev/null; then
      timeout 30 nvidia-smi 2>&1
      echo "== nvidia-smi --query-gpu"
      timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm \
        --format=csv 2>&1
    else
      echo "nvidia-smi: not found"
    fi
  } >"$OUT/machine.txt"
  timeout -k 5 120 "$PY" - "$OUT/machine.json" <<'EOF' | tee -a "$OUT/machine.txt"
import json, os, platform, subprocess, sys
import torch
facts = dict(python=platform.python_version(), torch=torch.__version__,
             torch_cuda=torch.version.cuda, cpu_count=os.cpu_count(),
             cuda_available=torch.cuda.is_available())
try:
    facts['cudnn'] = torch.backends.cudnn.version()
except Exception as err:  # noqa: BLE001
    facts['cudnn'] = f'n/a ({err})'
if torch.cuda.is_available():
    props = torch.cuda.get_device_properties(0)
    facts.update(gpu_name=props.name, gpu_count=torch.cuda.device_count(),
                 gpu_memory_gib=round(props.total_memory / 2**30, 1),
                 gpu_capability=f'{props.major}.{props.minor}',
                 gpu_multiprocessors=props.multi_processor_count)
else:
    facts['gpu_name'] = None
try:
    facts['driver'] = subprocess.run(
        ['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
        capture_output=True, text=True, timeout=30).stdout.strip() or None
except (OSError, subprocess.SubprocessError):
    facts['driver'] = None
from importlib import metadata  # versions without the imports' seconds
for mod, dist in (('mmengine', 'mmengine'), ('mmcv', 'mmcv-lite'),
                  ('mmaction', 'mmaction2'), ('mmpretrain', 'mmpretrain'),
                  ('decord', 'decord'), ('numpy', 'numpy'),
                  ('cv2', 'opencv-python-headless')):
    for name in (dist, mod, dist.split('-')[0], 'opencv-python'):
        try:
            facts[mod] = metadata.version(name)
            break
        except metadata.PackageNotFoundError:
            facts[mod] = 'not installed'
with open(sys.argv[1], 'w') as f:
    json.dump(facts, f, indent=2)
print('== facts:', ', '.join(f'{k}={v}' for k, v in facts.items()))
EOF
}

# ---------------------------------------------------------------- 4. Runner
runner_steps() {
  local data=$WORK/runner_data root=$WORK/runner num=$((RBATCH * RITERS))
  local interval=10
  ((RITERS < 20)) && interval=1
  local persistent=False
  ((RWORKERS > 0)) && persistent=True
  # synthetic.py needs only numpy and cv2: loaded by path, without the
  # package's torch / mmaction imports (seconds per process).
  run_step runner_data 120 1 "$PY" -c "import importlib.util as u; \
s = u.spec_from_file_location('synthetic', 'adaptformer_mm/datasets/synthetic.py'); \
m = u.module_from_spec(s); s.loader.exec_module(m); \
m.generate_synthetic_dataset('$data', task='direction', num_train=$num, \
num_val=0, num_frames=$FRAMES, size=64, seed=0); \
print('$num synthetic clips in $data')" || return $?
  local args=(tools/train.py "$ADAPT" --work-dir "$root" --no-validate
    --seed 0)
  # AmpOptimWrapper needs a GPU: the dry run trains in fp32 with SGD.
  [ "$DEVICE" = cuda ] && args+=(--amp)
  args+=(--cfg-options
    model.backbone.init_cfg=None
    model.backbone.num_frames="$FRAMES"
    train_dataloader.batch_size="$RBATCH"
    train_dataloader.num_workers="$RWORKERS"
    train_dataloader.persistent_workers=$persistent
    train_dataloader.dataset.ann_file="$data/train_list.txt"
    train_dataloader.dataset.data_prefix.video="$data"
    train_dataloader.dataset.pipeline.1.clip_len="$FRAMES"
    train_dataloader.dataset.pipeline.1.frame_interval=1
    train_cfg.max_epochs=1
    default_hooks.logger.interval=$interval
    log_processor.window_size=$interval
    default_hooks.checkpoint.interval=1000000
    default_hooks.checkpoint.save_last=False)
  [ "$DEVICE" = cuda ] || args+=(optim_wrapper._delete_=True
    optim_wrapper.type=OptimWrapper optim_wrapper.optimizer.type=SGD
    optim_wrapper.optimizer.lr=0.01 optim_wrapper.optimizer.momentum=0.9)
  [ "$RCOMPILE" = 1 ] && args+=(compile.backend="$COMPILE")
  args+=("${TINY[@]}")
  run_step runner 240 3 "$PY" "${args[@]}"
  local rc=$?
  if [ "$LIST" != 1 ]; then
    # The Runner's text log and per-interval scalars go into the bundle.
    local f
    for f in "$root"/*/*.log "$root"/*/vis_data/scalars.json; do
      [ -f "$f" ] && cp "$f" "$RUN_LOG_DIR/"
    done
  fi
  return $rc
}

# ---------------------------------------------------------------- plan
log "repo $REPO; OUT $OUT; dry run $DRY; device $DEVICE; clips" \
  "${FRAMES}x${SIZE}; amp $AMP; budget ${BUDGET}s; python $PY"
# Wheels and facts always run (GPU_REPORT_ONLY selects the measurements).
if [ "$LIST" != 1 ]; then
  install_wheels || { log "wheel install failed: stopping"; exit 2; }
  machine_facts || log "machine facts incomplete (rc $?)"
fi

# 3. Targets of issue 18 item 2 (limit, weight: a step starts only with
#    weight x 25 s of the budget left on the GPU).
bench adaptformer_b32 120 1 "$ADAPT" "$BIG"           # >= 450 train, 900 infer
bench adaptformer_b8_stock 180 2 "$ADAPT" "$SMALL" --baseline  # >= 5x, mem <= 1/5
bench full_b8 120 1 "$FULL" "$SMALL"                  # >= 3x stock (b8 above)
bench linear_probe_b32 120 1 "$LINEAR" "$BIG"         # >= 900 train
bench vpt_deep1_b32 120 1 "$VPT" "$BIG"               # >= 400 train
# 4. Through the Runner (compared with adaptformer_b32).
wanted runner && runner_steps
# Levers, on / off (the other side is a measurement above where noted).
bench lever_compile 300 4 "$ADAPT" "$BIG" --compile "$COMPILE"  # vs adaptformer_b32
bench lever_eager_attn 120 1 "$ADAPT" "$BIG" \
  --cfg-options model.backbone.attn_impl=eager         # vs adaptformer_b32
bench lever_with_cp 120 1 "$ADAPT" "$BIG" \
  --cfg-options model.backbone.with_cp=True            # vs adaptformer_b32
bench lever_no_skip_frozen_grad 120 1 "$ADAPT" "$BIG" \
  --cfg-options model.backbone.skip_frozen_grad=False  # vs adaptformer_b32
bench lever_compile_lp 240 3 "$LINEAR" "$BIG" --compile "$COMPILE"  # vs linear_probe_b32
bench lever_adamw_b8 120 1 "$FULL" "$SMALL" --cfg-options "${ADAMW[@]}"
bench lever_adamw_fused_b8 120 1 "$FULL" "$SMALL" \
  --cfg-options "${ADAMW[@]}" optim_wrapper.optimizer.fused=True
bench lever_sgd_fused_b8 120 1 "$FULL" "$SMALL" \
  --cfg-options optim_wrapper.optimizer.fused=True     # vs full_b8
[ "$LIST" = 1 ] && exit 0

# ---------------------------------------------------------------- 5. summary
log "summary"
timeout -k 5 60 "$PY" - "$OUT" "$JSON_DIR" "$STATUS" "$RUN_LOG_DIR" \
  "$DRY" "$RCOMPILE" <<'EOF'
import glob, json, os.path as osp, sys
out, json_dir, status_file, run_log_dir, dry, rcompile = sys.argv[1:7]

steps = {}
for line in open(status_file):
    name, status, rc, secs, cmd = (line.rstrip('\n').split('\t', 4) + [''])[:5]
    steps[name] = dict(status=status, rc=rc, seconds=int(secs), command=cmd)
bench = {}
for path in sorted(glob.glob(osp.join(json_dir, '*.json'))):
    try:
        bench[osp.splitext(osp.basename(path))[0]] = json.load(open(path))
    except (OSError, ValueError) as err:
        print(f'unreadable {path}: {err}')
machine = {}
if osp.isfile(osp.join(out, 'machine.json')):
    machine = json.load(open(osp.join(out, 'machine.json')))


def get(name, *keys):
    value = bench.get(name)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def fmt(value, spec='{:.1f}'):
    return 'n/a' if value is None else spec.format(value)


def state(name):
    if name in bench:
        return 'ok'
    return steps.get(name, {}).get('status', 'not run')


lines = []
say = lines.append
say(f'GPU report ({"DRY RUN: CPU, tiny shapes; not GPU figures" if dry == "1" else "GPU run"}); '
    f'device {machine.get("gpu_name") or "cpu"}, driver {machine.get("driver")}, '
    f'torch {machine.get("torch")} (CUDA {machine.get("torch_cuda")}, cuDNN '
    f'{machine.get("cudnn")})')

# Measurements.
rows = [('measurement', 'status', 'batch', 'train clips/s', 'step ms',
         'peak MiB', 'infer clips/s', 'train TFLOP/s')]
for name, step in steps.items():
    if name in ('runner', 'runner_data'):
        continue
    m = get(name, 'model') or {}
    rows.append((name, m.get('error') or state(name), fmt(get(name, 'batch'), '{}'),
                 fmt(m.get('train_clips_per_s')), fmt(m.get('train_step_ms')),
                 fmt(m.get('train_peak_mem_mib'), '{:.0f}'),
                 fmt(m.get('infer_clips_per_s')),
                 fmt(m.get('train_tflops_per_s'), '{:.1f}')))
    if get(name, 'baseline'):
        s = get(name, 'baseline')
        rows.append(('  stock mmaction2', s.get('error') or 'ok',
                     fmt(get(name, 'batch'), '{}'),
                     fmt(s.get('train_clips_per_s')), fmt(s.get('train_step_ms')),
                     fmt(s.get('train_peak_mem_mib'), '{:.0f}'),
                     fmt(s.get('infer_clips_per_s')),
                     fmt(s.get('train_tflops_per_s'), '{:.1f}')))


def table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        say('  '.join(str(c).ljust(w) if j == 0 else str(c).rjust(w)
                      for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            say('  '.join('-' * w for w in widths))


say('')
say('measurements (tools/benchmark.py):')
table(rows)


def ratio(a, b):
    return None if a is None or not b else a / b


# Targets of issue 18 item 2: (what, value, op, threshold, measurements).
stock_b8 = get('adaptformer_b8_stock', 'baseline', 'train_clips_per_s')


def best(names, *keys):
    values = [get(n, *keys) for n in names]
    values = [v for v in values if v is not None]
    return max(values) if values else None


targets = [
    ('AdaptFormer-64 train b32 clips/s', best(['adaptformer_b32', 'lever_compile'], 'model', 'train_clips_per_s'), '>=', 450, 'adaptformer_b32 / lever_compile'),
    ('AdaptFormer-64 / stock train b8', get('adaptformer_b8_stock', 'ratio', 'train_speedup'), '>=', 5, 'adaptformer_b8_stock'),
    ('AdaptFormer-64 / stock peak mem b8', get('adaptformer_b8_stock', 'ratio', 'train_peak_mem_fraction'), '<=', 0.2, 'adaptformer_b8_stock'),
    ('full fine-tune / stock train b8', ratio(best(['full_b8', 'lever_adamw_fused_b8', 'lever_sgd_fused_b8'], 'model', 'train_clips_per_s'), stock_b8), '>=', 3, 'full_b8 (+ fused) / stock of adaptformer_b8_stock'),
    ('linear probe train b32 clips/s', best(['linear_probe_b32', 'lever_compile_lp'], 'model', 'train_clips_per_s'), '>=', 900, 'linear_probe_b32 / lever_compile_lp'),
    ('inference b32 clips/s', best(['adaptformer_b32', 'lever_compile'], 'model', 'infer_clips_per_s'), '>=', 900, 'adaptformer_b32 / lever_compile'),
    ('VPT-deep-1 train b32 clips/s', get('vpt_deep1_b32', 'model', 'train_clips_per_s'), '>=', 400, 'vpt_deep1_b32'),
]
target_rows = [('target', 'need', 'best measured', 'met', 'measured/need', 'from')]
target_json = []
for what, value, op, need, src in targets:
    met = None if value is None else (value >= need if op == '>=' else value <= need)
    target_rows.append((what, f'{op} {need}', fmt(value, '{:.3g}'),
                        {None: 'n/a', True: 'yes', False: 'NO'}[met],
                        fmt(ratio(value, need), '{:.2f}'), src))
    target_json.append(dict(target=what, op=op, need=need, value=value,
                            met=met, source=src))
say('')
say('targets (issue 18 item 2; "best" includes the compiled / fused variants):')
table(target_rows)

# Levers on / off.
levers = [
    ('torch.compile AdaptFormer b32', 'adaptformer_b32', 'lever_compile'),
    ('torch.compile linear probe b32', 'linear_probe_b32', 'lever_compile_lp'),
    ('fused attention (sdpa vs eager)', 'lever_eager_attn', 'adaptformer_b32'),
    ('activation checkpointing (with_cp)', 'adaptformer_b32', 'lever_with_cp'),
    ('no backward through patch embed', 'lever_no_skip_frozen_grad', 'adaptformer_b32'),
    ('fused AdamW, full fine-tune b8', 'lever_adamw_b8', 'lever_adamw_fused_b8'),
    ('fused SGD, full fine-tune b8', 'full_b8', 'lever_sgd_fused_b8'),
]
lever_rows = [('lever', 'off clips/s', 'on clips/s', 'on/off', 'off MiB',
               'on MiB', 'infer on/off')]
lever_json = []
for what, off, on in levers:
    a, b = get(off, 'model', 'train_clips_per_s'), get(on, 'model', 'train_clips_per_s')
    lever_rows.append((what, fmt(a), fmt(b), fmt(ratio(b, a), '{:.2f}x'),
                       fmt(get(off, 'model', 'train_peak_mem_mib'), '{:.0f}'),
                       fmt(get(on, 'model', 'train_peak_mem_mib'), '{:.0f}'),
                       fmt(ratio(get(on, 'model', 'infer_clips_per_s'),
                                 get(off, 'model', 'infer_clips_per_s')), '{:.2f}x')))
    lever_json.append(dict(lever=what, off=off, on=on, off_train_clips_per_s=a,
                           on_train_clips_per_s=b, speedup=ratio(b, a)))
say('')
say('levers (not available in tools/benchmark.py, not measured: frozen '
    'weights stored in bf16, explicit SDPA backend, CUDA graphs / compile '
    'modes):')
table(lever_rows)

# The Runner (issue 18 item 4).
runner = dict(status=steps.get('runner', {}).get('status', 'not run'))
scalars = sorted(glob.glob(osp.join(run_log_dir, 'scalars.json')))
if scalars:
    entries = []
    for line in open(scalars[0]):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if 'time' in entry:
            entries.append(entry)
    # The first logged window holds the start (workers, cuDNN, compile).
    used = entries[1:] if len(entries) > 1 else entries
    if used:
        runner.update(
            logged_windows=len(entries), windows_used=len(used),
            iters=[e.get('iter', e.get('step')) for e in used],
            iter_time_ms=1e3 * sum(e['time'] for e in used) / len(used),
            data_time_ms=1e3 * sum(e.get('data_time', 0) for e in used) / len(used))
ref = 'lever_compile' if rcompile == '1' else 'adaptformer_b32'
bench_ms = get(ref, 'model', 'train_step_ms')
runner.update(benchmark=ref, benchmark_step_ms=bench_ms)
if runner.get('iter_time_ms') and bench_ms:
    runner['runner_over_benchmark'] = runner['iter_time_ms'] / bench_ms
    runner['within_15_percent'] = abs(runner['runner_over_benchmark'] - 1) <= 0.15
say('')
say('Runner vs benchmark (issue 18 item 4, tools/train.py configs/adaptformer_ssv2.py, synthetic clips):')
if 'iter_time_ms' in runner:
    say(f'  runner logged iteration time {runner["iter_time_ms"]:.1f} ms (data '
        f'{runner["data_time_ms"]:.1f} ms; mean of {runner["windows_used"]} '
        f'logged windows after the first)')
else:
    say(f'  runner: no logged iteration time (step {runner["status"]})')
say(f'  benchmark {ref} train step {fmt(bench_ms)} ms')
if 'runner_over_benchmark' in runner:
    say(f'  runner / benchmark = {runner["runner_over_benchmark"]:.2f}: '
        f'{"within" if runner["within_15_percent"] else "NOT within"} 15%')
else:
    say('  runner / benchmark: n/a')

skipped = [n for n, s in steps.items() if s['status'] != 'ok']
say('')
say('steps not ok: ' + (', '.join(f'{n} ({steps[n]["status"]})' for n in skipped) or 'none'))
text = '\n'.join(lines)
print(text)
with open(osp.join(out, 'summary.txt'), 'w') as f:
    f.write(text + '\n')
with open(osp.join(out, 'gpu_report.json'), 'w') as f:
    json.dump(dict(dry_run=dry == '1', machine=machine, steps=steps,
                   measurements=bench, targets=target_json, levers=lever_json,
                   runner=runner), f, indent=2)
EOF
rc=$?
((rc == 0)) || log "summary failed (rc $rc)"
tar -czf "$OUT/gpu_report.tar.gz" -C "$OUT" \
  $(cd "$OUT" && ls machine.txt machine.json summary.txt gpu_report.json 2>/dev/null) \
  -C "$BUNDLE" benchmarks logs || log "bundle failed"
[ "$OWN_WORK" = 1 ] && rm -rf "$WORK"
log "done in $((SECONDS - START))s; results in $OUT:" \
  "$(cd "$OUT" && ls -p | grep -v / | tr '\n' ' ')"
exit $rc
