"""Decoded-and-augmented clips/s of a config's data pipeline, per CPU worker.

    python tools/benchmark_data.py CONFIG [--split train] [--num-workers 0]
        [--samples N] [--data-root DIR] [--target-rate 400]
        [--baseline [--baseline-data-root DIR]]
        [--json out.json [--force]] [--cfg-options k=v ...]

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
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.cli import (  # noqa: E402
    ConfigBenchmarkTool, SignatureOptions, add_json_option)
from adaptformer_mm.benchmark.data import (  # noqa: E402
    format_data_benchmark, run_data_benchmark)


# The options of run_data_benchmark, with its defaults.
OPTIONS = SignatureOptions(run_data_benchmark, dict(
    split='which <split>_dataloader',
    num_workers='DataLoader workers, 0: this process',
    samples='timed clips',
    data_root='override <split>_dataloader.dataset.data_root',
    target_rate='training clips/s to feed, the AdaptFormer target of '
    'docs/benchmarks.md',
    baseline='also measure mmaction2\'s stock pipeline',
    baseline_data_root='data_root of the stock pipeline (default: that of '
    'this pipeline)'))


def add_options(parser):
    OPTIONS.add_to(parser)
    add_json_option(parser)


def run(cfg, args):
    return run_data_benchmark(cfg, **OPTIONS.values(args))


TOOL = ConfigBenchmarkTool(
    'Benchmark the clips/s of a config\'s data pipeline', add_options,
    'override config settings, e.g. train_dataloader.dataset.ann_file=...',
    run, format_data_benchmark)
parse_args, main = TOOL.parse_args, TOOL.main

if __name__ == '__main__':
    main()
