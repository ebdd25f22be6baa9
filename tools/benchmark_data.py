"""Decoded-and-augmented clips/s of a config's data pipeline, per CPU worker.

    python tools/benchmark_data.py CONFIG [--split train] [--num-workers 0]
        [--samples N] [--data-root DIR] [--target-rate 400]
        [--baseline [--baseline-data-root DIR]]
        [--json out.json] [--cfg-options k=v ...]

Builds ``{split}_dataloader.dataset`` from the config (its pipeline: decord
decoding, sampling, crops, FormatShape) and reads ``--samples`` items, in
this process (``--num-workers 0``) or through a torch DataLoader with that
many workers. Prints clips/s overall and per worker (a repeated-augmentation
item counts as its K clips), and how many workers (one CPU core each) keep
up with ``--target-rate`` clips/s of training. ``--baseline`` measures
mmaction2's stock pipeline for the same dataset too (no repeated
augmentation, stock decord loading), on ``--baseline-data-root`` if given
(e.g. the originals of a dataset re-encoded by ``tools/prepare_videos.py``),
and prints the per-worker speedup. See docs/benchmarks.md.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.apis import load_config  # noqa: E402
from adaptformer_mm.utils.data_benchmark import (  # noqa: E402
    format_data_benchmark, run_data_benchmark)
from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark the clips/s of a config\'s data pipeline')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', default='train',
                        help='which <split>_dataloader (default train)')
    parser.add_argument('--num-workers', type=int, default=0,
                        help='DataLoader workers (default 0: this process)')
    parser.add_argument('--samples', type=int, default=64,
                        help='timed clips (default 64)')
    parser.add_argument('--data-root',
                        help='override <split>_dataloader.dataset.data_root')
    parser.add_argument('--target-rate', type=float, default=400.0,
                        help='training clips/s to feed (default 400, the '
                        'AdaptFormer target of docs/benchmarks.md)')
    parser.add_argument('--baseline', action='store_true',
                        help='also measure mmaction2\'s stock pipeline')
    parser.add_argument('--baseline-data-root',
                        help='data_root of the stock pipeline (default: '
                        'that of this pipeline)')
    parser.add_argument('--json', help='write the figures to this file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.ann_file=...')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    result = run_data_benchmark(
        cfg, split=args.split, num_workers=args.num_workers,
        samples=args.samples, data_root=args.data_root,
        target_rate=args.target_rate, baseline=args.baseline,
        baseline_data_root=args.baseline_data_root)
    print(format_data_benchmark(result))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'figures written to {args.json}')
    return result


if __name__ == '__main__':
    main()
