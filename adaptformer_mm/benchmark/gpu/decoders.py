"""Does a GPU decoding library decode here, and does it give decord's
output?

    python -m adaptformer_mm.benchmark.gpu.decoders probe LIB OUT.json
        [DATASET=VIDEO ...]
    python -m adaptformer_mm.benchmark.gpu.decoders equality OUT.json
        --videos N --backends decord,LIB... DATASET=STOCK_CFG,GPU_CFG,DIR ...

``probe``: imports the library (a ``GPUDecodeInit`` backend), checks CUDA
and decodes three frames of one video a dataset through ``GPUDecodeInit`` /
``GPUDecode``; records the exact error, or the library's warnings (e.g.
torchcodec's CPU fallback).

``equality``: each backend against decord on the first N videos of each
dataset's ``videos.txt``: raw frames (max / mean |diff|, the per-channel
mean difference, which shows a colour conversion; the best-matching decord
frame within +-2, which shows seek accuracy; frame count and fps) and the
val pipeline's ``inputs`` (max |diff|, mean / std). Backend ``decord``
checks the comparison itself: every difference must be 0.

Run by the data report, each in a process of its own, so that a library
that fails, or crashes, takes only that process down.
"""
import argparse
import importlib
import os.path as osp
import random
import time
import traceback
import warnings
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ...datasets.gpu_decode import BACKENDS, select_backend
from .facts import first_line
from .steps import write_json

#: Frames compared a video, spread over it.
FRAMES_COMPARED = 8
#: Seek accuracy: decord frames within this distance are compared.
SEEK_WINDOW = 2


def error_entry(err: BaseException) -> dict:
    return dict(error=first_line(err, 500), message=str(err)[:3000],
                traceback=traceback.format_exc()[-3000:])


def import_failure(lib: str, error: str) -> dict:
    """The probe report of a library that does not import."""
    module = BACKENDS[lib].module
    return {'library': lib, 'module': module, 'datasets': {},
            'import': dict(ok=False, error=error),
            'reason': f'import {module} failed: {error}'}


def probe(lib: str, videos: Mapping[str, str]) -> dict:
    """Can backend ``lib`` decode ``videos`` (dataset -> file) here? The
    report; its ``reason`` says why not."""
    module = BACKENDS[lib].module
    try:
        mod = importlib.import_module(module)
    except BaseException as err:  # noqa: BLE001 (RuntimeError w/o driver)
        return dict(import_failure(lib, first_line(err, 500)),
                    **{'import': dict(ok=False, **error_entry(err))})
    import torch
    report = {'library': lib, 'module': module, 'datasets': {},
              'import': dict(ok=True,
                             version=getattr(mod, '__version__', None),
                             file=getattr(mod, '__file__', None)),
              'cuda_available': torch.cuda.is_available()}
    if not report['cuda_available']:
        report['reason'] = 'torch.cuda.is_available() is False'
        return report
    try:
        report['select_backend'] = select_backend(lib)
    except Exception as err:  # noqa: BLE001
        report['select_backend_error'] = error_entry(err)
    for dataset, video in videos.items():
        report['datasets'][dataset] = _decode_three(lib, video)
    bad = [f'{ds}: {e["error"]}' for ds, e in report['datasets'].items()
           if not e['ok']]
    if bad:
        report['reason'] = '; '.join(bad)
    return report


def _decode_three(lib: str, video: str) -> dict:
    """Open ``video`` and decode its first, middle and last frames."""
    from ...datasets.gpu_decode import GPUDecode, GPUDecodeInit
    entry = dict(video=video, ok=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            start = time.perf_counter()
            results = GPUDecodeInit(backend=lib)(dict(filename=video))
            entry['open_s'] = time.perf_counter() - start
            n = results['total_frames']
            entry.update(total_frames=n, avg_fps=results['avg_fps'])
            results['frame_inds'] = np.array([0, n // 2, n - 1])
            start = time.perf_counter()
            imgs = GPUDecode()(results)['imgs']
            entry['decode_s'] = time.perf_counter() - start
            entry.update(shape=list(np.stack(imgs).shape), ok=True)
        except BaseException as err:  # noqa: BLE001
            entry.update(error_entry(err))
    entry['warnings'] = sorted({str(w.message)[:500] for w in caught})
    return entry


def probe_result(report: Optional[dict], dataset: str) -> Optional[str]:
    """None when the probe ``report`` decoded ``dataset``'s video, else
    why not."""
    if report is None:
        return 'probe wrote nothing'
    entry = report.get('datasets', {}).get(dataset)
    if entry and entry.get('ok'):
        return None
    return (entry or {}).get('error') or report.get('reason') or \
        'not probed'


# ------------------------------------------------------------- equality
def _transforms():
    from mmaction.registry import TRANSFORMS
    init_default_scope('mmaction')
    return TRANSFORMS


def run_pipeline(pipeline: Sequence[dict], video: str, seed: int = 0):
    """``video`` through ``pipeline`` (random choices seeded)."""
    transforms = _transforms()
    random.seed(seed)
    np.random.seed(seed)
    results = dict(filename=video, label=0, start_index=0, modality='RGB')
    for step in pipeline:
        results = transforms.build(step)(results)
    return results


def decoders(backend: str):
    """The (init, decode) transforms of ``backend`` (``decord`` or a GPU
    library)."""
    transforms = _transforms()
    if backend == 'decord':
        return (transforms.build(dict(type='DecordInit')),
                transforms.build(dict(type='DecordDecode')))
    return (transforms.build(dict(type='GPUDecodeInit', backend=backend)),
            transforms.build(dict(type='GPUDecode')))


def raw_frames(backend: str, video: str) -> dict:
    """``backend``'s frames of ``video`` against decord's."""
    import decord
    reader = decord.VideoReader(video, num_threads=1)
    n = len(reader)
    inds = np.unique(np.linspace(0, n - 1, FRAMES_COMPARED).round()
                     .astype(int))
    init, decode = decoders(backend)
    results = init(dict(filename=video))
    results['frame_inds'] = inds.copy()
    ours = np.stack(decode(results)['imgs']).astype(np.int16)
    near = sorted({j for i in inds
                   for j in range(i - SEEK_WINDOW, i + SEEK_WINDOW + 1)
                   if 0 <= j < n})
    ref_all = dict(zip(near, reader.get_batch(near).asnumpy()
                       .astype(np.int16)))
    ref = np.stack([ref_all[i] for i in inds])
    diff = ours - ref
    offsets = []
    for k, i in enumerate(inds):
        errs = {j - i: np.abs(ours[k] - ref_all[j]).mean()
                for j in range(i - SEEK_WINDOW, i + SEEK_WINDOW + 1)
                if j in ref_all}
        offsets.append(int(min(errs, key=errs.get)))
    return dict(
        frames_ours=int(results['total_frames']), frames_decord=n,
        fps_ours=float(results['avg_fps']),
        fps_decord=float(reader.get_avg_fps()), indices=inds.tolist(),
        shape_ours=list(ours.shape), shape_decord=list(ref.shape),
        max_abs=int(np.abs(diff).max()), mean_abs=float(np.abs(diff).mean()),
        mean_diff_rgb=[float(diff[..., c].mean()) for c in range(3)],
        best_offsets=offsets)


def inputs_stats(stock_pipe: Sequence[dict], gpu_pipe: Sequence[dict],
                 video: str) -> dict:
    """The val pipeline's ``inputs`` through ``gpu_pipe`` against
    ``stock_pipe``."""
    a = run_pipeline(gpu_pipe, video)['inputs'].float()
    b = run_pipeline(stock_pipe, video)['inputs'].float()
    same = a.shape == b.shape
    return dict(shape=list(a.shape), same_shape=same,
                max_abs=float((a - b).abs().max()) if same else None,
                mean_abs=float((a - b).abs().mean()) if same else None,
                mean_ours=float(a.mean()), std_ours=float(a.std()),
                mean_decord=float(b.mean()), std_decord=float(b.std()))


def _mean(values: List[float]) -> Optional[float]:
    return float(np.mean(values)) if values else None


def summarise(per_video: List[dict]) -> dict:
    """The per-video comparisons of one backend, over the videos."""
    raw = [v['raw'] for v in per_video]
    inp = [v['inputs'] for v in per_video]
    return dict(
        videos=len(per_video),
        raw_max_abs=max(r['max_abs'] for r in raw),
        raw_mean_abs=_mean([r['mean_abs'] for r in raw]),
        raw_mean_diff_rgb=[_mean([r['mean_diff_rgb'][c] for r in raw])
                           for c in range(3)],
        seek_mismatches=sum(sum(o != 0 for o in r['best_offsets'])
                            for r in raw),
        seek_checked=sum(len(r['best_offsets']) for r in raw),
        frame_count_mismatches=sum(r['frames_ours'] != r['frames_decord']
                                   for r in raw),
        inputs_max_abs=max((i['max_abs'] for i in inp
                            if i['max_abs'] is not None), default=None),
        inputs_mean_abs=_mean([i['mean_abs'] for i in inp
                               if i['mean_abs'] is not None]),
        inputs_mean_ours=_mean([i['mean_ours'] for i in inp]),
        inputs_std_ours=_mean([i['std_ours'] for i in inp]),
        inputs_mean_decord=_mean([i['mean_decord'] for i in inp]),
        inputs_std_decord=_mean([i['std_decord'] for i in inp]))


def listed_videos(folder: str, num: int) -> List[str]:
    """The first ``num`` videos of ``folder/videos.txt``."""
    with open(osp.join(folder, 'videos.txt')) as f:
        names = [line.split()[0] for line in f if line.strip()]
    return [osp.join(folder, n) for n in names[:num]]


def _decoding_warning(message: str) -> bool:
    return any(word in message for word in ('GPUDecode', 'torchcodec', 'CPU'))


def compare_backend(backend: str, stock_pipe: List[dict],
                    gpu_pipe: List[dict], videos: Sequence[str]) -> dict:
    """``backend`` (through ``gpu_pipe``, its first step's backend set)
    against decord (``stock_pipe``) on ``videos``."""
    if backend == 'decord':
        pipe = stock_pipe
    else:
        pipe = [dict(s) for s in gpu_pipe]
        pipe[0]['backend'] = backend
    entry, per_video = dict(status='ok'), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            for video in videos:
                per_video.append(dict(
                    video=osp.basename(video), raw=raw_frames(backend, video),
                    inputs=inputs_stats(stock_pipe, pipe, video)))
            entry.update(summarise(per_video))
        except BaseException as err:  # noqa: BLE001
            entry.update(status='failed', reason=first_line(err, 500),
                         traceback=traceback.format_exc()[-3000:])
    entry['warnings'] = sorted({str(w.message)[:300] for w in caught
                                if _decoding_warning(str(w.message))})
    entry['per_video'] = per_video
    return entry


def equality(datasets: Mapping[str, Sequence[str]], backends: Sequence[str],
             num_videos: int) -> Dict[str, dict]:
    """Each backend against decord, a dataset: ``datasets`` maps a name to
    (stock config, GPU-decode config, video folder); the val pipelines
    are compared."""
    report = {}
    for dataset, (stock_cfg, gpu_cfg, folder) in datasets.items():
        stock_pipe = list(Config.fromfile(stock_cfg).val_pipeline)
        gpu_pipe = list(Config.fromfile(gpu_cfg).val_pipeline)
        videos = listed_videos(folder, num_videos)
        report[dataset] = {}
        for backend in backends:
            entry = compare_backend(backend, stock_pipe, gpu_pipe, videos)
            report[dataset][backend] = entry
            print(dataset, backend, entry['status'], {
                k: entry.get(k) for k in ('raw_max_abs', 'raw_mean_abs',
                                          'seek_mismatches',
                                          'inputs_max_abs', 'reason')})
    return report


# ----------------------------------------------------------------- main
def _pairs(items: Sequence[str]) -> Dict[str, str]:
    return dict(item.split('=', 1) for item in items)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    p = commands.add_parser('probe', help='can LIB decode here?')
    p.add_argument('lib', choices=sorted(BACKENDS))
    p.add_argument('out', help='the report (JSON)')
    p.add_argument('videos', nargs='*', metavar='DATASET=VIDEO')
    e = commands.add_parser('equality', help='each backend vs decord')
    e.add_argument('out', help='the report (JSON)')
    e.add_argument('--videos', type=int, default=4,
                   help='videos compared a dataset (default 4)')
    e.add_argument('--backends', default='decord',
                   help='comma-separated; decord checks the comparison')
    e.add_argument('datasets', nargs='+',
                   metavar='DATASET=STOCK_CFG,GPU_CFG,DIR')
    args = parser.parse_args(argv)
    if args.command == 'probe':
        report = probe(args.lib, _pairs(args.videos))
        for dataset, entry in report['datasets'].items():
            print(dataset, 'ok' if entry['ok'] else entry['error'],
                  entry['warnings'])
        print(report.get('reason', 'ok'))
    else:
        datasets = {k: v.split(',') for k, v in
                    _pairs(args.datasets).items()}
        report = equality(datasets, [b for b in args.backends.split(',')
                                     if b], args.videos)
    write_json(args.out, report)
    return report


if __name__ == '__main__':
    main()
