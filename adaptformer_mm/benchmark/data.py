"""Decoded-and-augmented clips/s of a config's data pipeline.

The logic of ``tools/benchmark_data.py`` (the tool parses arguments and
prints). :func:`run_data_benchmark` reads clips through
``{split}_dataloader.dataset`` with its pipeline, in this process or through
DataLoader workers, and reports clips/s overall and per worker (one CPU core
each) and how many workers keep up with a GPU's training rate.

Clips, not dataset items, are counted: a :class:`RepeatedAugDataset` item is
K clips. With ``baseline=True`` the same measurement runs on mmaction2's
stock pipeline (:func:`stock_dataset_cfg`) for a per-core ratio, optionally
on other files (the originals of a re-encoded dataset,
``tools/prepare_videos.py``).
"""
import copy
import math
import os
import time
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config

from adaptformer_mm.datasets.pipeline import innermost_dataset_cfg, step_name

# Our loading steps and the stock mmaction2 steps they replace.
_STOCK_INIT = {'ScaledDecordInit': 'DecordInit', 'GPUDecodeInit': 'DecordInit'}
_STOCK_DECODE = {'ScaledDecordDecode': 'DecordDecode',
                 'GPUDecode': 'DecordDecode'}


def stock_pipeline(pipeline: Sequence[dict]) -> List[dict]:
    """``pipeline`` with our loading steps replaced by mmaction2's.

    ``ScaledDecordInit(short_side=S)`` / ``ScaledDecordDecode`` become
    ``DecordInit`` / ``DecordDecode`` + ``Resize(scale=(-1, S))`` (what the
    decoder's scaling stands for); ``GPUDecodeInit`` / ``GPUDecode`` become
    ``DecordInit`` / ``DecordDecode``. Decoder threads are kept. Every other
    step is unchanged.
    """
    out, short_side = [], None
    for step in pipeline:
        name = step_name(step)
        if name in _STOCK_INIT:
            short_side = step.get('short_side', 256) \
                if name == 'ScaledDecordInit' else None
            out.append(dict(type=_STOCK_INIT[name],
                            num_threads=step.get('num_threads', 1)))
        elif name in _STOCK_DECODE:
            out.append(dict(type=_STOCK_DECODE[name]))
            if short_side is not None:
                out.append(dict(type='Resize', scale=(-1, short_side)))
        else:
            out.append(copy.deepcopy(step))
    return out


def stock_dataset_cfg(dataset_cfg: dict) -> dict:
    """mmaction2's stock way of reading the same dataset: no repeated
    augmentation (one clip per decoded video), stock loading steps."""
    stock = copy.deepcopy(innermost_dataset_cfg(dataset_cfg))
    stock['pipeline'] = stock_pipeline(stock.get('pipeline') or [])
    return stock


def decoder_threads(pipeline: Sequence[dict]) -> Optional[int]:
    for step in pipeline:
        if step_name(step) in ('DecordInit', 'ScaledDecordInit'):
            return int(step.get('num_threads', 1))
    return None


def _first(batch):
    return batch[0]


def time_dataset(dataset, num_workers: int, samples: int, warmup: int,
                 multiprocessing_context: Optional[str] = None
                 ) -> Tuple[float, int]:
    """Seconds and clips for reading ``samples`` items of ``dataset`` after
    ``warmup`` untimed ones (indices wrap around a small dataset), with the
    loader's worker start method (GPU decoding needs ``'spawn'``)."""
    from torch.utils.data import DataLoader

    indices = [i % len(dataset) for i in range(warmup + samples)]

    def clips(item) -> int:
        return len(item) if isinstance(item, list) else 1

    if num_workers == 0:
        items = (dataset[i] for i in indices)
    else:
        items = DataLoader(dataset, batch_size=1, sampler=indices,
                           num_workers=num_workers, collate_fn=_first,
                           multiprocessing_context=multiprocessing_context)
    count, start = 0, time.perf_counter()
    for n, item in enumerate(items, 1):
        if n <= warmup:
            start = time.perf_counter()
            continue
        count += clips(item)
    return time.perf_counter() - start, count


def _measure(dataset_cfg: dict, num_workers: int, samples: int,
             warmup: int, target_rate: float,
             context: Optional[str] = None) -> dict:
    from mmengine.registry import DATASETS

    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError(f'dataset ({dataset_cfg.get("type")}) is empty: '
                         'check its ann_file / data_root')
    seconds, clips = time_dataset(dataset, num_workers, samples, warmup,
                                  context)
    rate = clips / seconds
    per_worker = rate / max(num_workers, 1)
    video = innermost_dataset_cfg(dataset_cfg)
    return dict(
        dataset=str(dataset_cfg.get('type')),
        dataset_size=len(dataset),
        data_root=video.get('data_root'),
        decoder_threads=decoder_threads(video.get('pipeline') or []),
        seconds=seconds,
        clips=clips,
        clips_per_s=rate,
        clips_per_s_per_worker=per_worker,
        workers_needed=math.ceil(target_rate / per_worker),
    )


def run_data_benchmark(cfg: Config,
                       split: str = 'train',
                       num_workers: int = 0,
                       samples: int = 64,
                       data_root: Optional[str] = None,
                       target_rate: float = 400.0,
                       warmup: Optional[int] = None,
                       baseline: bool = False,
                       baseline_data_root: Optional[str] = None) -> dict:
    """Clips/s of ``{split}_dataloader.dataset`` with its pipeline.

    ``num_workers=0`` reads in this process; more workers go through a torch
    ``DataLoader`` (batch 1, the config loader's
    ``multiprocessing_context``). The first ``warmup`` items (default: one per
    worker, which pay for starting the worker and opening the decoder) are
    not timed; then ``samples`` items are (a repeated-augmentation item
    counts as its K clips). ``data_root`` overrides the video dataset's
    ``data_root``.

    Returns the setting, ``clips_per_s`` overall, ``clips_per_s_per_worker``
    and ``workers_needed`` for ``target_rate`` clips/s (per-worker rates add
    up only while there are free cores: ``cpu_count`` says how many there
    are). With ``baseline``, ``baseline`` holds the same figures for
    :func:`stock_dataset_cfg` read from ``baseline_data_root`` (default: the
    same files), and ``speedup_per_worker`` is ours / stock.
    """
    from mmengine.registry import init_default_scope

    key = f'{split}_dataloader'
    if not cfg.get(key) or 'dataset' not in cfg[key]:
        valid = [k[:-len('_dataloader')] for k in cfg
                 if k.endswith('_dataloader') and cfg[k]]
        raise KeyError(f'{cfg.filename} has no `{key}.dataset` (--split '
                       f'{split!r}); splits with a dataset: {valid}')
    if num_workers < 0 or samples < 1:
        raise ValueError(f'--num-workers {num_workers} must be >= 0 and '
                         f'--samples {samples} >= 1')
    if target_rate <= 0:
        raise ValueError(f'--target-rate {target_rate} must be positive')
    warmup = max(num_workers, 1) if warmup is None else warmup
    init_default_scope(cfg.get('default_scope', 'mmaction'))

    dataset_cfg = copy.deepcopy(cfg[key]['dataset'])
    stock_cfg = stock_dataset_cfg(dataset_cfg) if baseline else None
    if data_root is not None:
        innermost_dataset_cfg(dataset_cfg)['data_root'] = data_root
    context = cfg[key].get('multiprocessing_context') if num_workers else None
    ours = _measure(dataset_cfg, num_workers, samples, warmup, target_rate,
                    context)
    result = dict(config=cfg.filename, split=split, num_workers=num_workers,
                  samples=samples, warmup=warmup, cpu_count=os.cpu_count(),
                  target_rate=target_rate, **ours)
    if baseline:
        root = baseline_data_root or data_root
        if root is not None:
            stock_cfg['data_root'] = root
        stock = _measure(stock_cfg, num_workers, samples, warmup,
                         target_rate)
        result['baseline'] = stock
        result['speedup_per_worker'] = (ours['clips_per_s_per_worker'] /
                                        stock['clips_per_s_per_worker'])
    return result


def _summary(label: str, entry: dict, workers: int, target: float) -> str:
    threads = entry['decoder_threads']
    return (f'{label}: {entry["clips"]} clips in {entry["seconds"]:.2f} s = '
            f'{entry["clips_per_s"]:.2f} clips/s, '
            f'{entry["clips_per_s_per_worker"]:.2f} per worker (decoder '
            f'threads: {"n/a" if threads is None else threads}); '
            f'{entry["workers_needed"]} workers for {target:g} clips/s')


def format_data_benchmark(result: dict) -> str:
    """The report ``tools/benchmark_data.py`` prints."""
    workers = result['num_workers']
    where = ('in the main process' if workers == 0 else
             f'with {workers} DataLoader workers')
    lines = [
        f'config: {result["config"]} ({result["split"]} split, '
        f'{result["dataset"]}, {result["dataset_size"]} videos)',
        f'{result["samples"]} items {where} after {result["warmup"]} '
        f'untimed; {result["cpu_count"]} CPU cores visible',
        _summary('this pipeline', result, workers, result['target_rate']),
    ]
    if 'baseline' in result:
        lines += [
            _summary('stock mmaction2', result['baseline'], workers,
                     result['target_rate']),
            f'per-worker speedup over stock: '
            f'{result["speedup_per_worker"]:.2f}x',
        ]
    return '\n'.join(lines)
