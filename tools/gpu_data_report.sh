#!/usr/bin/env bash
# One call on the GPU machine (issue 19): how fast each data path feeds
# training, and whether GPU decoding gives decord's output.
#
#   bash tools/gpu_data_report.sh            # results under $OUT
#   GPU_DATA_REPORT_DRY_RUN=1 bash tools/gpu_data_report.sh   # CPU flow check
#
# Steps, each under `timeout`, the whole within ~8 minutes (measurements stop
# being started after GPU_DATA_REPORT_BUDGET_S seconds, default 420):
#  1. install: the OpenMMLab stack and decord from the wheels carried in .whl
#     (only if they do not import already), then each optional wheel on its
#     own (torchcodec, PyNvVideoCodec, imageio-ffmpeg); what fails is
#     recorded and the run goes on:
#       python3 -m pip install -q --no-index --no-deps --no-compile \
#           --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
#     FFmpeg shared libraries for torchcodec: a folder of them in
#     GPU_DATA_REPORT_FFMPEG_LIBS (default .whl/ffmpeg-libs) is put on
#     LD_LIBRARY_PATH.
#  2. machine facts (CPU, GPU, driver, NVDEC libraries, package versions).
#  3. test videos by tools/misc/make_benchmark_videos.py: K400-like H.264
#     640x272 x 300 frames, SSv2-like VP9 426x240 x 48 frames at 12 fps (the
#     commands of docs/benchmarks.md), and the K400 copies re-encoded by
#     tools/prepare_videos.py for the fast path. GPU_DATA_REPORT_VIDEOS=DIR
#     reuses DIR/k400 and DIR/ssv2 (each with videos.txt) and DIR/k400_256
#     (the copies) instead.
#  4. configs: configs/_base_/datasets/ssv2_video_gpu-decode.py, and the same
#     swap (GPUDecodeInit / GPUDecode for DecordInit / DecordDecode, spawned
#     workers) made of kinetics400_video.py here; every benchmark's config
#     and overrides are loaded and checked before anything is timed.
#  5. one probe per GPU library in its own process: import, CUDA, and one
#     clip of each dataset through GPUDecodeInit / GPUDecode; the exact
#     error (or torchcodec's CPU-fallback warning) is recorded.
#  6. output equality, GPU backend vs decord on the same files: raw frames
#     (max / mean |diff|, per-channel mean difference = colour conversion,
#     best-matching decord frame within +-2 = seek accuracy, frame count and
#     fps) and the val pipeline's `inputs` (max |diff|, mean / std); a
#     decord-vs-decord row checks the comparison itself.
#  7. tools/benchmark_data.py, one --json per measurement, at 16, 1 and 8
#     workers: the fast CPU config with --baseline (the stock decord
#     pipeline in the same run) and the GPU config with each library that
#     passed its probe.
#  8. $OUT: gpu_data_report.json (everything, combined), summary.txt (the
#     table printed at the end), machine_facts.txt, gpu_data_report.log (this
#     output), gpu_data_report_raw.tar.gz (per-run JSONs, logs, probes,
#     configs). Five files, all at the top of $OUT.
#
# Knobs (environment): PYTHON (default python3), OUT (default: a new temp
# folder), GPU_DATA_REPORT_DRY_RUN=1 (few samples, workers 1 and 0, tiny
# videos, GPU libraries not installed or measured: recorded as skipped),
# GPU_DATA_REPORT_WORKERS ("16 1 8"), GPU_DATA_REPORT_SAMPLES_PER_WORKER (32,
# at least GPU_DATA_REPORT_MIN_SAMPLES = 64 per run), GPU_DATA_REPORT_NUM_VIDEOS
# (16), GPU_DATA_REPORT_BUDGET_S (420), GPU_DATA_REPORT_WHEELS (.whl),
# GPU_DATA_REPORT_SITE (/tmp/site), GPU_DATA_REPORT_WORK (folder for videos
# and raw results, kept; default a temp folder, removed at the end), GPU_DATA_REPORT_FFMPEG (an ffmpeg binary for the
# test videos; default: PATH, then imageio-ffmpeg's),
# GPU_DATA_REPORT_K400_VIDEO_ARGS / GPU_DATA_REPORT_SSV2_VIDEO_ARGS (the
# make_benchmark_videos.py options after --num).
#
# On the device machine (tools: run), with the wheels in .whl:
#   run(command="bash tools/gpu_data_report.sh", carry=[".whl"],
#       timeout_s=540)
set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
PYTHON=${PYTHON:-python3}
DRY=${GPU_DATA_REPORT_DRY_RUN:-0}
[ "$DRY" = 1 ] || DRY=0
if [ -z "${OUT:-}" ]; then
    OUT=$(mktemp -d /tmp/gpu_data_report_out.XXXXXX)
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TEMP_WORK=0
if [ -z "${GPU_DATA_REPORT_WORK:-}" ]; then
    WORK=$(mktemp -d /tmp/gpu_data_report.XXXXXX) TEMP_WORK=1
else
    WORK=$GPU_DATA_REPORT_WORK
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
WHEELS=${GPU_DATA_REPORT_WHEELS:-$REPO/.whl}
SITE=${GPU_DATA_REPORT_SITE:-/tmp/site}
BUDGET=${GPU_DATA_REPORT_BUDGET_S:-420}
# setting VAR NAME DRY FULL: VAR is $GPU_DATA_REPORT_NAME when set and not
# empty, else the dry-run (DRY) or the full-run (FULL) default.
setting() {
    local env=GPU_DATA_REPORT_$2 default=$4
    if [ "$DRY" = 1 ]; then default=$3; fi
    printf -v "$1" '%s' "${!env:-$default}"
}
# Workers, full run: 16 first (the host's figure for the target), then 1
# (cheap, the per-worker cost): what the time budget cuts, if anything, is 8.
setting WORKERS WORKERS '1 0' '16 1 8'
setting PER_WORKER SAMPLES_PER_WORKER 2 32
setting MIN_SAMPLES MIN_SAMPLES 4 64
setting NUM_VIDEOS NUM_VIDEOS 3 16
setting K400_VIDEO_ARGS K400_VIDEO_ARGS '--size 128x64 --frames 40' \
    '--size 640x272 --frames 300'
setting SSV2_VIDEO_ARGS SSV2_VIDEO_ARGS \
    '--size 96x64 --frames 40 --fps 12 --codec vp9' \
    '--size 426x240 --frames 48 --fps 12 --codec vp9'
# Not a setting: the videos of the decoder-equivalence check.
if [ "$DRY" = 1 ]; then EQ_VIDEOS=2; else EQ_VIDEOS=4; fi
LIBS="torchcodec pynvvideocodec"
DATASETS="k400 ssv2"
V=${GPU_DATA_REPORT_VIDEOS:-$WORK/videos}
CFG_DIR=$REPO/configs/_base_/datasets
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export GPU_DATA_REPORT_DRY_RUN=$DRY

mkdir -p "$WORK/logs" "$WORK/runs" "$WORK/probes" "$WORK/configs" "$WORK/py"
STEPS=$WORK/steps.tsv
: >"$STEPS"

say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }

# record NAME GROUP DATASET PATH WORKERS STATUS RC SECONDS REASON
record() {
    local reason=${9//$'\t'/ }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
        "$6" "$7" "$8" "${reason//$'\n'/ }" >>"$STEPS"
}

# run_step NAME GROUP DATASET PATH WORKERS TIMEOUT CMD...: CMD under
# `timeout` (cut to what is left of the budget), output in logs/NAME.log.
run_step() {
    local name=$1 group=$2 ds=$3 path=$4 w=$5 t=$6 left start rc status reason
    shift 6
    left=$((BUDGET - SECONDS))
    if [ "$left" -lt 15 ]; then
        record "$name" "$group" "$ds" "$path" "$w" skipped -1 0 \
            "time budget spent (${BUDGET}s)"
        say "$name: skipped (time budget spent)"
        return 3
    fi
    [ "$t" -gt "$left" ] && t=$left
    start=$SECONDS
    timeout -k 5 "$t" "$@" >"$WORK/logs/$name.log" 2>&1
    rc=$?
    case $rc in
        0) status=ok reason='' ;;
        124|137) status=timeout reason="stopped by timeout after ${t}s" ;;
        13[0-9]|14[0-9]) status=failed reason="killed by signal $((rc - 128))" ;;
        *) status=failed reason="exit status $rc" ;;
    esac
    record "$name" "$group" "$ds" "$path" "$w" "$status" "$rc" \
        "$((SECONDS - start))" "$reason"
    say "$name: $status ($((SECONDS - start)) s)"
    return $rc
}

skip_step() {  # skip_step NAME GROUP DATASET PATH WORKERS REASON
    record "$1" "$2" "$3" "$4" "$5" skipped -1 0 "$6"
    say "$1: skipped ($6)"
}

write_helpers() {
cat >"$WORK/py/facts.py" <<'PYEOF'
"""Machine facts as JSON (argv[1]) and text (argv[2])."""
import importlib
import importlib.metadata as md
import json
import os
import platform
import shutil
import subprocess
import sys

facts = dict(python=sys.version.split()[0], executable=sys.executable,
             platform=platform.platform(), cpu_count=os.cpu_count(),
             dry_run=os.environ.get('GPU_DATA_REPORT_DRY_RUN') == '1')
try:
    with open('/proc/cpuinfo') as f:
        names = [ln.split(':', 1)[1].strip() for ln in f
                 if ln.startswith('model name')]
    facts['cpu_model'] = names[0] if names else None
except OSError:
    facts['cpu_model'] = None
try:
    with open('/proc/meminfo') as f:
        facts['mem_total'] = f.readline().split(':', 1)[1].strip()
except OSError:
    pass


def sh(cmd):
    try:
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                           timeout=20)
        return (p.stdout + p.stderr).strip()
    except Exception as e:  # noqa: BLE001
        return f'{type(e).__name__}: {e}'


facts['nvidia_smi'] = sh('nvidia-smi --query-gpu=name,driver_version,'
                         'memory.total,clocks.max.sm --format=csv,noheader')
facts['nvidia_smi_decoder'] = sh(
    'nvidia-smi -q 2>/dev/null | grep -i -A3 -E "decoder|encoder" | head -20')
facts['nvidia_driver_capabilities'] = os.environ.get(
    'NVIDIA_DRIVER_CAPABILITIES')
facts['video_driver_libs'] = sh(
    'ldconfig -p 2>/dev/null | grep -E "libnvcuvid|libnvidia-encode" ; '
    'ls /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu 2>/dev/null | '
    'grep -E "libnvcuvid|libnvidia-encode" | sort -u')
facts['ffmpeg_libs'] = sh(
    'ldconfig -p 2>/dev/null | grep -E "libav(codec|format|util)\\.so" ; '
    'for d in $(echo "${LD_LIBRARY_PATH:-}" | tr : " "); do '
    'ls "$d" 2>/dev/null | grep -E "^libav(codec|format|util)"; done')
facts['ld_library_path'] = os.environ.get('LD_LIBRARY_PATH')
facts['pythonpath'] = os.environ.get('PYTHONPATH')
try:
    import torch
    facts['torch'] = torch.__version__
    facts['torch_cuda'] = torch.version.cuda
    facts['cuda_available'] = torch.cuda.is_available()
    if facts['cuda_available']:
        facts['gpu'] = torch.cuda.get_device_name(0)
        facts['gpu_count'] = torch.cuda.device_count()
except Exception as e:  # noqa: BLE001
    facts['torch'] = f'{type(e).__name__}: {e}'
packages = {}
for dist, module in [('numpy', 'numpy'), ('opencv-python-headless', 'cv2'),
                     ('decord', 'decord'), ('mmengine', 'mmengine'),
                     ('mmcv-lite', 'mmcv'), ('mmaction2', 'mmaction'),
                     ('mmpretrain', 'mmpretrain'), ('torchcodec', 'torchcodec'),
                     ('PyNvVideoCodec', 'PyNvVideoCodec'),
                     ('imageio-ffmpeg', 'imageio_ffmpeg')]:
    entry = {}
    try:
        entry['dist_version'] = md.version(dist)
    except Exception:  # noqa: BLE001
        entry['dist_version'] = None
    try:
        mod = importlib.import_module(module)
        entry['imports'] = True
        entry['version'] = getattr(mod, '__version__', None)
        entry['file'] = getattr(mod, '__file__', None)
    except BaseException as e:  # noqa: BLE001
        entry['imports'] = False
        msg = (str(e).strip().splitlines() or [''])[0][:300]
        entry['error'] = f'{type(e).__name__}: {msg}'
    packages[module] = entry
facts['packages'] = packages
ffmpeg = os.environ.get('GPU_DATA_REPORT_FFMPEG') or shutil.which('ffmpeg')
if not ffmpeg:
    try:
        import imageio_ffmpeg
        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001
        ffmpeg = None
facts['ffmpeg_binary'] = (f'{ffmpeg}: ' + sh(f'"{ffmpeg}" -version | head -1')
                          if ffmpeg else 'none (no ffmpeg, no imageio-ffmpeg)')
with open(sys.argv[1], 'w') as f:
    json.dump(facts, f, indent=2)
with open(sys.argv[2], 'w') as f:
    for k, v in facts.items():
        if k == 'packages':
            for m, e in v.items():
                state = (f'{e.get("version") or e.get("dist_version")}'
                         if e['imports'] else e['error'])
                f.write(f'package {m}: {state}\n')
        else:
            f.write(f'{k}: {v}\n')
print(open(sys.argv[2]).read())
PYEOF

cat >"$WORK/py/configs.py" <<'PYEOF'
"""Make the K400 GPU-decode config and check every benchmark's config.

configs.py make REPO WORK: writes WORK/configs/kinetics400_video_gpu-decode.py
(kinetics400_video.py with the swap that ssv2_video_gpu-decode.py makes of
ssv2_video.py, which is checked here too).
configs.py check SPEC...: SPEC = name|config|data_root|key=value key=value...
"""
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from adaptformer_mm.datasets.pipeline import innermost_dataset_cfg

SWAP = {'DecordInit': dict(type='GPUDecodeInit', backend='auto'),
        'DecordDecode': dict(type='GPUDecode')}


def gpu_version(cfg):
    for split in ('train', 'val', 'test'):
        pipe = [dict(SWAP[s['type']]) if s['type'] in SWAP else s
                for s in cfg[f'{split}_pipeline']]
        cfg[f'{split}_pipeline'] = pipe
        cfg[f'{split}_dataloader']['dataset']['pipeline'] = pipe
        cfg[f'{split}_dataloader']['multiprocessing_context'] = 'spawn'
    return cfg


def make(repo, work):
    base = osp.join(repo, 'configs', '_base_', 'datasets')
    ssv2 = gpu_version(Config.fromfile(osp.join(base, 'ssv2_video.py')))
    ref = Config.fromfile(osp.join(base, 'ssv2_video_gpu-decode.py'))
    for split in ('train', 'val', 'test'):
        assert ssv2[f'{split}_pipeline'] == ref[f'{split}_pipeline'], split
        assert ref[f'{split}_dataloader'].multiprocessing_context == 'spawn'
    k400 = gpu_version(Config.fromfile(osp.join(base,
                                                'kinetics400_video.py')))
    out = osp.join(work, 'configs', 'kinetics400_video_gpu-decode.py')
    k400.dump(out)
    Config.fromfile(out)
    print(f'wrote {out} (the swap reproduces ssv2_video_gpu-decode.py)')


def check(specs):
    for spec in specs:
        name, config, data_root, opts = spec.split('|')
        cfg = Config.fromfile(config)
        options = {}
        for kv in opts.split():
            k, v = kv.split('=', 1)
            options[k] = DictAction._parse_iterable(v)
        cfg.merge_from_dict(options)
        ds = innermost_dataset_cfg(cfg.train_dataloader.dataset)
        assert osp.isfile(ds.ann_file), f'{name}: no {ds.ann_file}'
        assert osp.isdir(data_root), f'{name}: no folder {data_root}'
        first = ds.pipeline[0]
        backend = options.get('train_dataloader.dataset.pipeline.0.backend')
        if backend is not None:
            assert first['type'] == 'GPUDecodeInit', (name, first)
            assert first['backend'] == backend, (name, first)
            assert cfg.train_dataloader.multiprocessing_context == 'spawn'
        print(f'{name}: {osp.relpath(config)} ok, first step {dict(first)}')


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        make(*sys.argv[2:4])
    else:
        check(sys.argv[2:])
PYEOF

cat >"$WORK/py/probe.py" <<'PYEOF'
"""Can GPU library argv[1] decode here? probe.py LIB OUT.json DS=VIDEO..."""
import json
import sys
import time
import traceback
import warnings

lib, out = sys.argv[1], sys.argv[2]
videos = dict(a.split('=', 1) for a in sys.argv[3:])
module = {'torchcodec': 'torchcodec', 'pynvvideocodec': 'PyNvVideoCodec'}[lib]
report = dict(library=lib, module=module, datasets={})


def error(e):
    lines = (str(e).strip().splitlines() or [''])
    return dict(error=f'{type(e).__name__}: {lines[0][:500]}',
                message=str(e)[:3000],
                traceback=traceback.format_exc()[-3000:])


def save():
    with open(out, 'w') as f:
        json.dump(report, f, indent=2)


try:
    import importlib
    mod = importlib.import_module(module)
    report['import'] = dict(ok=True, version=getattr(mod, '__version__', None),
                            file=getattr(mod, '__file__', None))
except BaseException as e:  # noqa: BLE001 (RuntimeError without driver)
    report['import'] = dict(ok=False, **error(e))
    report['reason'] = f'import {module} failed: {report["import"]["error"]}'
    save()
    print(report['reason'])
    sys.exit(0)

import numpy as np  # noqa: E402
import torch  # noqa: E402

report['cuda_available'] = torch.cuda.is_available()
if not report['cuda_available']:
    report['reason'] = 'torch.cuda.is_available() is False'
    save()
    print(report['reason'])
    sys.exit(0)
import adaptformer_mm  # noqa: E402,F401
from adaptformer_mm.datasets.gpu_decode import (  # noqa: E402
    GPUDecode, GPUDecodeInit, select_backend)

try:
    report['select_backend'] = select_backend(lib)
except Exception as e:  # noqa: BLE001
    report['select_backend_error'] = error(e)
for ds, video in videos.items():
    entry = report['datasets'][ds] = dict(video=video, ok=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            start = time.perf_counter()
            results = GPUDecodeInit(backend=lib)(dict(filename=video))
            entry['open_s'] = time.perf_counter() - start
            n = results['total_frames']
            entry['total_frames'] = n
            entry['avg_fps'] = results['avg_fps']
            results['frame_inds'] = np.array([0, n // 2, n - 1])
            start = time.perf_counter()
            imgs = GPUDecode()(results)['imgs']
            entry['decode_s'] = time.perf_counter() - start
            entry['shape'] = list(np.stack(imgs).shape)
            entry['ok'] = True
        except BaseException as e:  # noqa: BLE001
            entry.update(error(e))
    entry['warnings'] = sorted({str(w.message)[:500] for w in caught})
    print(ds, 'ok' if entry['ok'] else entry['error'], entry['warnings'])
bad = [f'{ds}: {e["error"]}' for ds, e in report['datasets'].items()
       if not e['ok']]
if bad:
    report['reason'] = '; '.join(bad)
save()
PYEOF

cat >"$WORK/py/equality.py" <<'PYEOF'
"""GPU backend vs decord on the same files.

equality.py OUT.json NVIDEOS BACKENDS DS|STOCK_CFG|GPU_CFG|VIDEO_DIR ...
BACKENDS: comma-separated, 'decord' (the comparison checked against itself)
first.
"""
import json
import os.path as osp
import random
import sys
import traceback
import warnings

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import adaptformer_mm  # noqa: F401
from mmaction.registry import TRANSFORMS

init_default_scope('mmaction')
out, nvideos, backends = sys.argv[1], int(sys.argv[2]), sys.argv[3]
backends = [b for b in backends.split(',') if b]
report = {}


def videos_of(folder):
    with open(osp.join(folder, 'videos.txt')) as f:
        names = [ln.split()[0] for ln in f if ln.strip()]
    return [osp.join(folder, n) for n in names[:nvideos]]


def run(pipeline, video, seed=0):
    random.seed(seed)
    np.random.seed(seed)
    results = dict(filename=video, label=0, start_index=0, modality='RGB')
    for step in pipeline:
        results = TRANSFORMS.build(step)(results)
    return results


def decoders(backend):
    if backend == 'decord':
        return (TRANSFORMS.build(dict(type='DecordInit')),
                TRANSFORMS.build(dict(type='DecordDecode')))
    return (TRANSFORMS.build(dict(type='GPUDecodeInit', backend=backend)),
            TRANSFORMS.build(dict(type='GPUDecode')))


def raw_frames(backend, video):
    import decord
    ref_reader = decord.VideoReader(video, num_threads=1)
    n = len(ref_reader)
    inds = np.unique(np.linspace(0, n - 1, 8).round().astype(int))
    init, decode = decoders(backend)
    results = init(dict(filename=video))
    results['frame_inds'] = inds.copy()
    ours = np.stack(decode(results)['imgs']).astype(np.int16)
    near = sorted({j for i in inds for j in range(i - 2, i + 3)
                   if 0 <= j < n})
    ref_all = dict(zip(near, ref_reader.get_batch(near).asnumpy()
                       .astype(np.int16)))
    ref = np.stack([ref_all[i] for i in inds])
    diff = ours - ref
    offsets = []
    for k, i in enumerate(inds):
        errs = {j - i: np.abs(ours[k] - ref_all[j]).mean()
                for j in range(i - 2, i + 3) if j in ref_all}
        offsets.append(int(min(errs, key=errs.get)))
    return dict(
        frames_ours=int(results['total_frames']), frames_decord=n,
        fps_ours=float(results['avg_fps']),
        fps_decord=float(ref_reader.get_avg_fps()),
        indices=inds.tolist(), shape_ours=list(ours.shape),
        shape_decord=list(ref.shape),
        max_abs=int(np.abs(diff).max()), mean_abs=float(np.abs(diff).mean()),
        mean_diff_rgb=[float(diff[..., c].mean()) for c in range(3)],
        best_offsets=offsets)


def inputs_stats(stock_pipe, gpu_pipe, video):
    a = run(gpu_pipe, video)['inputs'].float()
    b = run(stock_pipe, video)['inputs'].float()
    same = a.shape == b.shape
    return dict(shape=list(a.shape), same_shape=same,
                max_abs=float((a - b).abs().max()) if same else None,
                mean_abs=float((a - b).abs().mean()) if same else None,
                mean_ours=float(a.mean()), std_ours=float(a.std()),
                mean_decord=float(b.mean()), std_decord=float(b.std()))


def summarise(per_video):
    raw = [v['raw'] for v in per_video]
    inp = [v['inputs'] for v in per_video]
    return dict(
        videos=len(per_video),
        raw_max_abs=max(r['max_abs'] for r in raw),
        raw_mean_abs=float(np.mean([r['mean_abs'] for r in raw])),
        raw_mean_diff_rgb=[float(np.mean([r['mean_diff_rgb'][c]
                                          for r in raw])) for c in range(3)],
        seek_mismatches=sum(sum(o != 0 for o in r['best_offsets'])
                            for r in raw),
        seek_checked=sum(len(r['best_offsets']) for r in raw),
        frame_count_mismatches=sum(r['frames_ours'] != r['frames_decord']
                                   for r in raw),
        inputs_max_abs=max((i['max_abs'] for i in inp
                            if i['max_abs'] is not None), default=None),
        inputs_mean_abs=float(np.mean([i['mean_abs'] for i in inp
                                       if i['mean_abs'] is not None]))
        if any(i['mean_abs'] is not None for i in inp) else None,
        inputs_mean_ours=float(np.mean([i['mean_ours'] for i in inp])),
        inputs_std_ours=float(np.mean([i['std_ours'] for i in inp])),
        inputs_mean_decord=float(np.mean([i['mean_decord'] for i in inp])),
        inputs_std_decord=float(np.mean([i['std_decord'] for i in inp])))


for spec in sys.argv[4:]:
    ds, stock_cfg, gpu_cfg, folder = spec.split('|')
    stock_pipe = Config.fromfile(stock_cfg).val_pipeline
    gpu_base = Config.fromfile(gpu_cfg).val_pipeline
    report[ds] = {}
    for backend in backends:
        entry = report[ds][backend] = dict(status='ok')
        if backend == 'decord':
            gpu_pipe = stock_pipe
        else:
            gpu_pipe = [dict(s) for s in gpu_base]
            gpu_pipe[0]['backend'] = backend
        per_video = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                for video in videos_of(folder):
                    per_video.append(dict(
                        video=osp.basename(video),
                        raw=raw_frames(backend, video),
                        inputs=inputs_stats(stock_pipe, gpu_pipe, video)))
                entry.update(summarise(per_video))
            except BaseException as e:  # noqa: BLE001
                entry['status'] = 'failed'
                lines = str(e).strip().splitlines() or ['']
                entry['reason'] = f'{type(e).__name__}: {lines[0][:500]}'
                entry['traceback'] = traceback.format_exc()[-3000:]
        entry['warnings'] = sorted({str(w.message)[:300] for w in caught
                                    if 'GPUDecode' in str(w.message)
                                    or 'torchcodec' in str(w.message)
                                    or 'CPU' in str(w.message)})
        entry['per_video'] = per_video
        print(ds, backend, entry['status'],
              {k: entry.get(k) for k in ('raw_max_abs', 'raw_mean_abs',
                                         'seek_mismatches', 'inputs_max_abs',
                                         'reason')})
with open(out, 'w') as f:
    json.dump(report, f, indent=2)
PYEOF

cat >"$WORK/py/assemble.py" <<'PYEOF'
"""Combine the step records, run JSONs, probes and equality into one JSON
(argv[2]) and print the summary table (also to argv[3])."""
import glob
import json
import os
import os.path as osp
import re
import sys
import time

work, out_json, out_txt = sys.argv[1:4]
target = float(os.environ.get('GPU_DATA_REPORT_TARGET', 450))
meta = json.loads(os.environ['GPU_DATA_REPORT_META'])


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


ERR = re.compile(r'^(\w+\.)*\w*(Error|Exception|Warning|Interrupt)\b.*')


def log_reason(name):
    """The last exception line of logs/NAME.log, else its last line."""
    try:
        with open(osp.join(work, 'logs', name + '.log'),
                  errors='replace') as f:
            lines = [ln.rstrip() for ln in f if ln.strip()]
    except OSError:
        return None
    errs = [ln for ln in lines if ERR.match(ln.strip())
            and 'Warning' not in ln.split(':')[0]]
    return (errs or lines or [''])[-1][:600]


def log_warnings(name):
    try:
        with open(osp.join(work, 'logs', name + '.log'),
                  errors='replace') as f:
            found = [ln.strip().split('Warning: ', 1)[-1] for ln in f
                     if 'Warning' in ln and ('GPUDecode' in ln or
                                             'torchcodec' in ln or
                                             'CPU' in ln)]
    except OSError:
        return []
    return sorted(set(found))[:10]


steps = []
with open(osp.join(work, 'steps.tsv')) as f:
    for line in f:
        name, group, ds, path, w, status, rc, sec, reason = \
            line.rstrip('\n').split('\t')
        step = dict(name=name, group=group, dataset=ds or None,
                    path=path or None, workers=int(w) if w else None,
                    status=status, rc=int(rc), seconds=int(sec),
                    reason=reason or None)
        if status in ('failed', 'timeout'):
            step['log_reason'] = log_reason(name)
        steps.append(step)

runs, rows = [], []
for s in steps:
    if s['group'] != 'bench':
        continue
    result = load(osp.join(work, 'runs', s['name'] + '.json'))
    run = dict(s, warnings=log_warnings(s['name']), result=result)
    if s['status'] == 'ok' and result is None:
        run['status'] = 'failed'
        run['reason'] = 'no JSON written'
    runs.append(run)
    why = run.get('log_reason') or run.get('reason')
    if result is None:
        rows.append(dict(dataset=s['dataset'], path=s['path'],
                         workers=s['workers'], status=run['status'],
                         reason=why))
        continue
    if 'baseline' in result:
        b = result['baseline']
        rows.append(dict(dataset=s['dataset'], path='stock',
                         workers=s['workers'], status='ok',
                         clips_per_s=b['clips_per_s'],
                         per_worker=b['clips_per_s_per_worker'],
                         clips=b['clips'], seconds=b['seconds']))
    rows.append(dict(dataset=s['dataset'], path=s['path'],
                     workers=s['workers'], status='ok',
                     clips_per_s=result['clips_per_s'],
                     per_worker=result['clips_per_s_per_worker'],
                     clips=result['clips'], seconds=result['seconds'],
                     warnings=run['warnings'] or None))
stock = {(r['dataset'], r['workers']): r['clips_per_s'] for r in rows
         if r['path'] == 'stock' and r['status'] == 'ok'}
for r in rows:
    base = stock.get((r['dataset'], r['workers']))
    if r.get('clips_per_s') is not None and base:
        r['vs_stock'] = r['clips_per_s'] / base

probes = {}
for lib in meta['libs']:
    probes[lib] = load(osp.join(work, 'probes', lib + '.json'))
install = {}
try:
    with open(osp.join(work, 'install.tsv')) as f:
        for line in f:
            what, status, reason = (line.rstrip('\n').split('\t') + [''])[:3]
            install[what] = dict(status=status, reason=reason or None)
except OSError:
    pass
libraries = {}
for lib in meta['libs']:
    p = probes.get(lib)
    step = next((s for s in steps if s['name'] == 'probe_' + lib), None)
    if meta['dry_run']:
        status, reason = 'skipped', 'dry run: GPU libraries not measured'
        if p and p.get('reason'):
            reason += f' (on this machine: {p["reason"]})'
    elif p is None:
        status = 'failed'
        reason = (step or {}).get('log_reason') or 'probe wrote nothing'
    elif p.get('reason'):
        status, reason = 'failed', p['reason']
    else:
        status, reason = 'ok', None
    libraries[lib] = dict(status=status, reason=reason,
                          install=install.get(lib), probe=p)

equality = load(osp.join(work, 'equality.json'))
best = {}
for ds in meta['datasets']:
    ok = [r for r in rows if r['dataset'] == ds and r.get('clips_per_s')]
    if not ok:
        best[ds] = dict(status='no measurement')
        continue
    top_w = max(r['workers'] for r in ok)
    b = max((r for r in ok if r['workers'] == top_w),
            key=lambda r: r['clips_per_s'])
    best[ds] = dict(path=b['path'], workers=top_w,
                    clips_per_s=b['clips_per_s'], target=target,
                    met=b['clips_per_s'] >= target)

report = dict(schema='gpu_data_report/1', dry_run=meta['dry_run'],
              written=time.strftime('%Y-%m-%dT%H:%M:%S%z'),
              seconds=meta['seconds'], settings=meta['settings'],
              facts=load(osp.join(work, 'facts.json')), install=install,
              libraries=libraries, steps=steps, runs=runs,
              equality=equality if equality is not None else dict(
                  status=next((s['status'] for s in steps
                               if s['name'] == 'equality'), 'missing')),
              summary=dict(rows=rows, best=best, target_rate=target))
with open(out_json, 'w') as f:
    json.dump(report, f, indent=2)

lines = [f'GPU data report ({"DRY RUN, " if meta["dry_run"] else ""}'
         f'{meta["seconds"]} s; clips/s of the training pipelines)', '']
head = (f'{"dataset":8} {"path":20} {"workers":>7} {"clips/s":>9} '
        f'{"/worker":>8} {"vs stock":>8}  status')
lines += [head, '-' * len(head)]
ORDER = ['stock', 'fast'] + ['gpu-' + lib for lib in meta['libs']]
for r in sorted(rows, key=lambda r: (r['dataset'], -r['workers'],
                                     ORDER.index(r['path'])
                                     if r['path'] in ORDER else 99)):
    def num(v, fmt):
        return format(v, fmt) if v is not None else '-'
    note = r['status'] if r['status'] == 'ok' else \
        f'{r["status"]}: {(r.get("reason") or "")[:70]}'
    if r.get('warnings'):
        note += ' (warned: ' + r['warnings'][0][:90] + ')'
    lines.append(f'{r["dataset"]:8} {r["path"]:20} {r["workers"]:>7} '
                 f'{num(r.get("clips_per_s"), ".1f"):>9} '
                 f'{num(r.get("per_worker"), ".1f"):>8} '
                 f'{num(r.get("vs_stock"), ".2f"):>8}  {note}')
lines.append('')
for ds, b in best.items():
    if 'clips_per_s' in b:
        lines.append(f'best {ds} at {b["workers"]} workers: {b["path"]} '
                     f'{b["clips_per_s"]:.1f} clips/s; target {target:g}: '
                     f'{"met" if b["met"] else "NOT met"}')
    else:
        lines.append(f'best {ds}: {b["status"]}')
lines.append('')
for lib, entry in libraries.items():
    inst = (entry['install'] or {}).get('status', '-')
    if inst == 'failed':
        inst += ': ' + ((entry['install'] or {}).get('reason') or '')[:200]
    lines.append(f'library {lib}: {entry["status"]} (install: {inst})'
                 + (f': {entry["reason"][:300]}' if entry['reason'] else ''))
lines.append('')
if isinstance(equality, dict) and 'status' not in equality:
    for ds, per in equality.items():
        for backend, e in per.items():
            if e['status'] != 'ok':
                lines.append(f'equality {ds} {backend}: {e["status"]}: '
                             f'{e.get("reason")}')
                continue
            rgb = ', '.join(f'{v:+.2f}' for v in e['raw_mean_diff_rgb'])
            lines.append(
                f'equality {ds} {backend} vs decord ({e["videos"]} videos): '
                f'frames max|d| {e["raw_max_abs"]} mean|d| '
                f'{e["raw_mean_abs"]:.2f}, mean d RGB {rgb}; seek off '
                f'{e["seek_mismatches"]}/{e["seek_checked"]}; inputs max|d| '
                f'{e["inputs_max_abs"]}, mean/std {e["inputs_mean_ours"]:.2f}'
                f'/{e["inputs_std_ours"]:.2f} vs '
                f'{e["inputs_mean_decord"]:.2f}/{e["inputs_std_decord"]:.2f}')
else:
    lines.append(f'equality: {report["equality"].get("status")}')
failed = [s for s in steps if s['status'] in ('failed', 'timeout')
          and s['group'] != 'bench']
for s in failed:
    lines.append(f'step {s["name"]}: {s["status"]}: '
                 f'{s.get("log_reason") or s.get("reason")}')
text = '\n'.join(lines) + '\n'
with open(out_txt, 'w') as f:
    f.write(text)
print(text)
PYEOF
}

# ------------------------------------------------------------- 1. install
note_install() {  # note_install WHAT STATUS REASON
    local reason=${3//$'\t'/ }
    printf '%s\t%s\t%s\n' "$1" "$2" "${reason//$'\n'/ }" >>"$WORK/install.tsv"
    say "install $1: $2${3:+ ($3)}"
}

install_wheels() {
    local req=() found=() w lib mod pat rc reason status
    : >"$WORK/install.tsv"
    shopt -s nullglob nocaseglob
    if "$PYTHON" -c 'import mmengine, mmcv, mmaction, mmpretrain, decord' \
            >/dev/null 2>&1; then
        note_install required skipped 'OpenMMLab stack and decord already import'
    elif [ ! -d "$WHEELS" ]; then
        note_install required failed "no wheel folder $WHEELS"
    else
        for w in "$WHEELS"/*.whl; do
            case ${w##*/} in
                torchcodec-*|pynvvideocodec-*|imageio_ffmpeg-*) ;;
                *) req+=("$w") ;;
            esac
        done
        if run_step install_required setup '' '' '' 180 "$PYTHON" -m pip \
                install -q --no-index --no-deps --no-compile --no-cache-dir \
                --upgrade --target "$SITE" "${req[@]}"; then
            note_install required ok "${#req[@]} wheels into $SITE"
        else
            rc=$?
            note_install required failed "pip exit $rc: $(tail -1 "$WORK/logs/install_required.log")"
        fi
    fi
    export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
    local ffl=${GPU_DATA_REPORT_FFMPEG_LIBS:-$WHEELS/ffmpeg-libs}
    if [ -d "$ffl" ]; then
        export LD_LIBRARY_PATH="$ffl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        say "install: FFmpeg libraries from $ffl on LD_LIBRARY_PATH"
    fi
    for lib in torchcodec pynvvideocodec imageio_ffmpeg; do
        case $lib in
            torchcodec) mod=torchcodec pat='torchcodec-*.whl' ;;
            pynvvideocodec) mod=PyNvVideoCodec pat='pynvvideocodec-*.whl' ;;
            imageio_ffmpeg) mod=imageio_ffmpeg pat='imageio_ffmpeg-*.whl' ;;
        esac
        reason=''
        if "$PYTHON" -c "import $mod" >/dev/null 2>&1; then
            status=skipped reason='already importable'
        elif [ "$DRY" = 1 ] && [ "$lib" != imageio_ffmpeg ]; then
            status=skipped reason='dry run: GPU libraries not installed'
        else
            # shellcheck disable=SC2206
            found=("$WHEELS"/$pat)
            if [ ${#found[@]} = 0 ]; then
                status=failed reason="no wheel $pat in $WHEELS"
            elif ! timeout 120 "$PYTHON" -m pip install -q --no-index \
                    --no-deps --no-compile --no-cache-dir --upgrade \
                    --target "$SITE" "${found[@]}" \
                    >"$WORK/logs/install_$lib.log" 2>&1; then
                status=failed
                reason="pip install ${found[*]##*/} failed: $(tail -1 "$WORK/logs/install_$lib.log")"
            elif ! timeout 60 "$PYTHON" -c "import $mod" \
                    >>"$WORK/logs/install_$lib.log" 2>&1; then
                status=failed
                reason="installed ${found[*]##*/}; import $mod failed: $(tail -1 "$WORK/logs/install_$lib.log")"
            else
                status=ok reason="installed ${found[*]##*/}"
            fi
        fi
        note_install "$lib" "$status" "$reason"
    done
    shopt -u nullglob nocaseglob
}

# ---------------------------------------------------------------- 3. videos
make_videos() {
    if [ -n "${GPU_DATA_REPORT_VIDEOS:-}" ]; then
        say "videos: reusing $V"
        return
    fi
    local ff=()
    [ -n "${GPU_DATA_REPORT_FFMPEG:-}" ] && ff=(--ffmpeg "$GPU_DATA_REPORT_FFMPEG")
    # shellcheck disable=SC2086
    run_step videos_ssv2 setup ssv2 '' '' 150 "$PYTHON" \
        tools/misc/make_benchmark_videos.py "$V/ssv2" --num "$NUM_VIDEOS" \
        $SSV2_VIDEO_ARGS "${ff[@]}" &
    local ssv2_pid=$!
    # shellcheck disable=SC2086
    run_step videos_k400 setup k400 '' '' 150 "$PYTHON" \
        tools/misc/make_benchmark_videos.py "$V/k400" --num "$NUM_VIDEOS" \
        $K400_VIDEO_ARGS "${ff[@]}" &&
    run_step videos_k400_256 setup k400 '' '' 120 "$PYTHON" \
        tools/prepare_videos.py "$V/k400" "$V/k400_256" --measure 0 \
        "${ff[@]}"
    wait "$ssv2_pid"
}

# --------------------------------------------------------- benchmark specs
# bench_spec DATASET PATH -> "config|data_root|cfg-options" (no baseline)
bench_spec() {
    local ds=$1 path=$2 lib
    case $ds:$path in
        k400:fast) echo "$CFG_DIR/kinetics400_video_fast.py|$V/k400_256|train_dataloader.dataset.dataset.ann_file=$V/k400/videos.txt train_dataloader.dataset.dataset.data_prefix.video=" ;;
        ssv2:fast) echo "$CFG_DIR/ssv2_video_fast.py|$V/ssv2|train_dataloader.dataset.dataset.ann_file=$V/ssv2/videos.txt train_dataloader.dataset.dataset.data_prefix.video=" ;;
        *:gpu-*)
            lib=${path#gpu-}
            local cfg=$CFG_DIR/ssv2_video_gpu-decode.py root=$V/ssv2
            if [ "$ds" = k400 ]; then
                cfg=$WORK/configs/kinetics400_video_gpu-decode.py root=$V/k400
            fi
            echo "$cfg|$root|train_dataloader.dataset.ann_file=$root/videos.txt train_dataloader.dataset.data_prefix.video= train_dataloader.dataset.pipeline.0.backend=$lib" ;;
    esac
}

bench() {  # bench DATASET PATH WORKERS
    local ds=$1 path=$2 w=$3 spec cfg root opts samples name extra=()
    spec=$(bench_spec "$ds" "$path")
    IFS='|' read -r cfg root opts <<<"$spec"
    samples=$((PER_WORKER * w))
    [ "$samples" -lt "$MIN_SAMPLES" ] && samples=$MIN_SAMPLES
    name=bench_${ds}_${path}_w$w
    if [ "$path" = fast ]; then
        extra=(--baseline)
        [ "$ds" = k400 ] && extra+=(--baseline-data-root "$V/k400")
    fi
    # GPU runs pay for spawning workers (CUDA context each): more time.
    local t=90
    case $path in gpu-*) t=120 ;; esac
    # shellcheck disable=SC2086
    run_step "$name" bench "$ds" "$path" "$w" "$t" "$PYTHON" \
        tools/benchmark_data.py "$cfg" --num-workers "$w" --samples "$samples" \
        --data-root "$root" --target-rate 450 "${extra[@]}" \
        --json "$WORK/runs/$name.json" --cfg-options $opts
}

probe_ok() {  # probe_ok LIB DATASET: the probe decoded that dataset's clip
    "$PYTHON" - "$WORK/probes/$1.json" "$2" <<'PYEOF'
import json, sys
try:
    p = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print('probe wrote nothing'); sys.exit(1)
e = p.get('datasets', {}).get(sys.argv[2])
if e and e.get('ok'):
    sys.exit(0)
print((e or {}).get('error') or p.get('reason') or 'not probed')
sys.exit(1)
PYEOF
}

# ------------------------------------------------------------------- main
main() {
    say "gpu_data_report: repo $REPO, OUT $OUT, work $WORK, dry run $DRY"
    say "workers: $WORKERS; samples: $PER_WORKER per worker, >= $MIN_SAMPLES; videos: $NUM_VIDEOS; budget ${BUDGET}s"
    write_helpers
    install_wheels
    run_step facts setup '' '' '' 60 "$PYTHON" "$WORK/py/facts.py" \
        "$WORK/facts.json" "$OUT/machine_facts.txt"
    make_videos
    local have_videos=1 ds lib w path reason backends=decord specs=()
    for ds in k400 ssv2; do
        [ -s "$V/$ds/videos.txt" ] || have_videos=0
    done
    ls "$V"/k400_256/*.mp4 >/dev/null 2>&1 || have_videos=0
    [ $have_videos = 1 ] || say "videos: missing under $V (see logs/videos_*.log)"
    run_step configs setup '' '' '' 60 "$PYTHON" "$WORK/py/configs.py" make \
        "$REPO" "$WORK"
    if [ $have_videos = 1 ]; then
        for ds in $DATASETS; do
            for path in fast gpu-torchcodec; do
                specs+=("${ds}_$path|$(bench_spec "$ds" "$path")")
            done
        done
        run_step config_check setup '' '' '' 60 "$PYTHON" \
            "$WORK/py/configs.py" check "${specs[@]}"
    fi
    for lib in $LIBS; do
        run_step "probe_$lib" setup '' '' '' 90 "$PYTHON" "$WORK/py/probe.py" \
            "$lib" "$WORK/probes/$lib.json" "k400=$(ls -d "$V"/k400/*.mp4 2>/dev/null | head -1)" \
            "ssv2=$(ls -d "$V"/ssv2/*.webm 2>/dev/null | head -1)"
        if [ "$DRY" = 0 ] && { probe_ok "$lib" k400 || probe_ok "$lib" ssv2; \
                } >/dev/null 2>&1; then
            backends+=",$lib"
        fi
    done
    if [ $have_videos = 1 ]; then
        run_step equality setup '' '' '' 150 "$PYTHON" "$WORK/py/equality.py" \
            "$WORK/equality.json" "$EQ_VIDEOS" "$backends" \
            "k400|$CFG_DIR/kinetics400_video.py|$WORK/configs/kinetics400_video_gpu-decode.py|$V/k400" \
            "ssv2|$CFG_DIR/ssv2_video.py|$CFG_DIR/ssv2_video_gpu-decode.py|$V/ssv2"
    else
        skip_step equality setup '' '' '' 'no test videos'
    fi
    for w in $WORKERS; do
        for ds in $DATASETS; do
            if [ $have_videos = 0 ]; then
                skip_step "bench_${ds}_fast_w$w" bench "$ds" fast "$w" \
                    'no test videos'
            else
                bench "$ds" fast "$w"
            fi
            for lib in $LIBS; do
                path=gpu-$lib
                if [ "$DRY" = 1 ]; then
                    skip_step "bench_${ds}_${path}_w$w" bench "$ds" "$path" \
                        "$w" 'dry run: GPU libraries not measured'
                elif [ $have_videos = 0 ]; then
                    skip_step "bench_${ds}_${path}_w$w" bench "$ds" "$path" \
                        "$w" 'no test videos'
                elif ! reason=$(probe_ok "$lib" "$ds" 2>&1); then
                    skip_step "bench_${ds}_${path}_w$w" bench "$ds" "$path" \
                        "$w" "probe failed: $reason"
                else
                    bench "$ds" "$path" "$w"
                fi
            done
        done
    done
    local meta
    meta=$(printf '{"dry_run": %s, "seconds": %d, "libs": ["torchcodec", "pynvvideocodec"], "datasets": ["k400", "ssv2"], "settings": {"workers": "%s", "samples_per_worker": %d, "min_samples": %d, "num_videos": %d, "k400_videos": "%s", "ssv2_videos": "%s", "budget_s": %d, "videos": "%s"}}' \
        "$([ "$DRY" = 1 ] && echo true || echo false)" "$SECONDS" "$WORKERS" \
        "$PER_WORKER" "$MIN_SAMPLES" "$NUM_VIDEOS" "$K400_VIDEO_ARGS" \
        "$SSV2_VIDEO_ARGS" "$BUDGET" "$V")
    GPU_DATA_REPORT_META=$meta timeout 60 "$PYTHON" "$WORK/py/assemble.py" \
        "$WORK" "$OUT/gpu_data_report.json" "$OUT/summary.txt" ||
        say "assemble failed (raw results are in the tar)"
    timeout 60 tar -czf "$OUT/gpu_data_report_raw.tar.gz" -C "$WORK" \
        steps.tsv install.tsv logs runs probes configs py \
        $(cd "$WORK" && ls facts.json equality.json 2>/dev/null) ||
        say "tar failed"
    # A temp work folder goes (its results are in the tar); a given one stays.
    [ "$TEMP_WORK" = 1 ] && rm -rf "$WORK"
    say "done: $(ls "$OUT" | tr '\n' ' ')"
}

main 2>&1 | tee "$OUT/gpu_data_report.log"
exit "${PIPESTATUS[0]}"
