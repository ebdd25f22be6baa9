"""Training-step and inference throughput of a config's model.

    python tools/benchmark.py CONFIG [--batch N] [--amp bf16|fp16|none]
        [--steps K] [--warmup W] [--baseline] [--json out.json [--force]]
        [--device cuda|cpu] [--frames T] [--size S] [--threads N]
        [--compile [BACKEND]] [--cfg-options k=v ...]

Builds the config's ``Recognizer3D`` or ``ImageClassifier`` (no pretrained
weights are loaded) and feeds it random clips (images) of the config's shape
(the training pipeline's ``clip_len`` and crop size, else the backbone's
``num_frames`` / ``img_size``; ``--frames`` / ``--size`` override). Measures
one training step (forward, backward, optimizer step on the trainable
parameters) and inference: clips/s (images/s), peak memory and the TFLOP/s
that torch's FlopCounterMode gives. ``--baseline`` adds the stock mmaction2 /
mmpretrain backbone the config's extends (``VisionTransformer``,
``SwinTransformer3D``, ``SwinTransformer``) at the same shape (stock
attention, every parameter trains) and the ratios. ``--compile`` wraps our
model's training step and inference in ``torch.compile`` (default backend
inductor; the stock baseline stays eager). Prints a table; ``--json`` also
writes the figures. See docs/benchmarks.md.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.benchmark.model import (AMP_DTYPES,  # noqa: E402
                                            format_benchmark, run_benchmark)
from adaptformer_mm.cli import (  # noqa: E402
    ConfigBenchmarkTool, add_clip_options, add_json_option)


def add_options(parser):
    parser.add_argument('--batch', type=int, default=8,
                        help='clips per step (default 8)')
    parser.add_argument('--steps', type=int, default=10,
                        help='timed steps (default 10)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed steps before them (default 3)')
    parser.add_argument('--baseline', action='store_true',
                        help='also run the stock mmaction2 / mmpretrain '
                        'backbone that the config\'s extends, same shape')
    add_json_option(parser)
    parser.add_argument('--device', choices=['cuda', 'cpu'],
                        help='default: cuda when present, else cpu')
    add_clip_options(parser, AMP_DTYPES, amp='none')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s choice; '
                        'use 1 on cores other processes share)')
    parser.add_argument('--compile', nargs='?', const='inductor',
                        metavar='BACKEND',
                        help='torch.compile our model (backend inductor '
                        'unless named, e.g. eager, aot_eager)')


def run(cfg, args):
    return run_benchmark(
        cfg, batch=args.batch, steps=args.steps, warmup=args.warmup,
        amp=args.amp, device=args.device, baseline=args.baseline,
        frames=args.frames, size=args.size, threads=args.threads,
        compile_backend=args.compile)


TOOL = ConfigBenchmarkTool(
    'Benchmark training and inference of a config\'s model', add_options,
    'override config settings, e.g. model.backbone.with_cp=True', run,
    format_benchmark)
parse_args, main = TOOL.parse_args, TOOL.main

if __name__ == '__main__':
    main()
