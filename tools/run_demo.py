"""The papers' comparison in miniature, on synthetic video, with no download.

1. Pre-train a tiny VideoMAE-architecture backbone, supervised, on a broad
   synthetic corpus: 3 shapes x 8 motions, 24 classes
   (``configs/demo/videomae_vit-tiny-p16_scratch_adamw-12e_synthetic-prim24.py``).
   The checkpoint is cached under ``DATA_ROOT/pretrained/``, keyed by the
   config and seed, and reused by later runs.
2. Transfer it to task B (does a bar, a shape the corpus never had, grow,
   shrink or rotate which way) four ways: linear probe, VPT, AdaptFormer,
   full fine-tuning (``configs/demo/*_prim24-pre_*_synthetic-dynamics.py``),
   each loading the checkpoint as a VideoMAE checkpoint is loaded, with
   128 and with 32 training clips (the VPT paper's downstream data scales).
   Every method first trains at each lr of a small grid (seed 0, 128
   clips); the val split then decides the lr of two protocols:

   - ``shared``: the papers' protocol, one lr for every method (the grid
     value best on val averaged over the methods);
   - ``tuned``: the VPT paper's protocol, each method's own best lr.

   Each chosen (method, lr) then trains with every transfer seed at both
   sizes (32 clips at the lrs chosen on 128), and the test split (held out
   of every choice) gives top-1 as mean ± std.
3. Print a table like the AdaptFormer paper's Table 1 for each size and
   write ``results.md``, ``results.json`` (every run, the grid, the
   choices), ``accuracy_vs_params.png``, ``accuracy_vs_data.png`` and
   ``tsne.png`` (the test split's final features of each method, as in
   the VPT paper's pictures).

Every stage is an ordinary ``tools/train.py`` run of an ordinary config: a
short one beside the stage's folder inherits the demo config and sets the
stage's data, lr, seed and checkpoint (the command line is saved as
``command.txt`` in the stage's folder), so each can be rerun alone. Stages
run ``--jobs`` at a time with ``--threads`` torch threads each. The logic
is :mod:`adaptformer_mm.experiments.demo`, the comparison harness
(``docs/comparison.md``) with a pre-training of its own: run again with the
same flags and ``--work-dir``, it reuses every finished stage; with other
flags it stops before any stage starts, naming the setting that differs.
Usage::

    python tools/run_demo.py [--work-dir DIR] [--data-root DIR]
        [--methods ...] [--protocol shared|tuned|both] [--seeds 0 1 2]
        [--lrs ...] [--tasks dynamics order] [--data-sizes 32 128]
        [--pretrain-seeds 0 1 2] [--jobs 2] [--threads 1]
        [--quick] [--full] [--fresh-pretrain]
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from adaptformer_mm.experiments import ComparisonError, PROTOCOLS  # noqa: E402
from adaptformer_mm.experiments.demo import (  # noqa: E402
    ALL_METHODS, DATA_SIZES, DEFAULT_LRS, METHODS, OPTIONAL_METHODS, TASKS,
    DemoSettings, run)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--work-dir',
        help='folder for all stages and the report (default: '
        'work_dirs/demo/<timestamp>); a folder of an earlier run with the '
        'same flags is continued, its finished stages reused')
    parser.add_argument(
        '--data-root', default='data/synthetic',
        help='where the synthetic clips and the pre-training cache are '
        'written and reused')
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        metavar='METHOD',
                        help=f'rows to run (default {list(METHODS)}; '
                        f'optional: {list(OPTIONAL_METHODS)})')
    parser.add_argument('--protocol', default='both',
                        help=f'{sorted(PROTOCOLS)} or both')
    parser.add_argument('--seeds', nargs='+', default=None,
                        metavar='SEED', help='transfer seeds (default 0 1 2; '
                        '--quick: 0 1); the first one also runs the lr grid')
    parser.add_argument('--lrs', nargs='+', default=None, metavar='LR',
                        help=f'lr grid (default {list(DEFAULT_LRS)}; '
                        '--quick: its two ends)')
    parser.add_argument('--tasks', nargs='+', default=None, metavar='TASK',
                        help=f'downstream tasks from {list(TASKS)} '
                        '(default dynamics; --full: both)')
    parser.add_argument('--pretrain-seeds', nargs='+', default=None,
                        metavar='SEED',
                        help='pre-training seeds (default 0; --full: 0 1 2); '
                        'the lr grid runs on the first')
    parser.add_argument('--data-sizes', nargs='+', default=None,
                        metavar='CLIPS',
                        help='training clips of the downstream task (default '
                        '32 128; --quick: 16, with --full 8 16); the lr grid '
                        'runs on the largest, the other sizes use its lrs')
    parser.add_argument('--jobs', type=int, default=2,
                        help='stages run side by side')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of each stage (pre-training '
                        'alone gets jobs x threads)')
    parser.add_argument(
        '--fresh-pretrain', action='store_true',
        help='pre-train in this run\'s work dir even when a cached '
        'checkpoint exists (the cache is left as it is)')
    parser.add_argument('--full', action='store_true',
                        help='add pre-training seeds and the temporal-order '
                        'task')
    parser.add_argument(
        '--quick', action='store_true',
        help='smoke test of every code path: few clips, 2 epochs per stage, '
        '2 seeds, a 2-point grid (numbers are meaningless)')
    args = parser.parse_args(argv)
    return check_args(parser, args)


def check_args(parser, args):
    """Validate the flags; fill the defaults that depend on --quick/--full."""

    def ints(flag, values, minimum):
        try:
            out = [int(v) for v in values]
        except ValueError:
            parser.error(f'{flag}: {values} are not all integers')
        if any(v < minimum for v in out) or len(set(out)) != len(out):
            parser.error(f'{flag}: {values}: give distinct integers >= '
                         f'{minimum}')
        return out

    unknown = [m for m in args.methods if m not in ALL_METHODS]
    if unknown or len(set(args.methods)) != len(args.methods):
        parser.error(f'--methods: {unknown or args.methods} (give each once); '
                     f'valid: {list(ALL_METHODS)}')
    valid = sorted(PROTOCOLS) + ['both']
    if args.protocol not in valid:
        parser.error(f'--protocol: {args.protocol!r}; valid: {valid}')
    args.protocols = (sorted(PROTOCOLS) if args.protocol == 'both' else
                      [args.protocol])
    args.seeds = ints('--seeds', args.seeds or (
        ['0', '1'] if args.quick else ['0', '1', '2']), 0)
    tasks = args.tasks or (list(TASKS) if args.full else ['dynamics'])
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or len(set(tasks)) != len(tasks):
        parser.error(f'--tasks: {unknown or tasks} (give each once); '
                     f'valid: {list(TASKS)}')
    args.tasks = tasks
    args.pretrain_seeds = ints(
        '--pretrain-seeds',
        args.pretrain_seeds or (['0', '1', '2'] if args.full else ['0']), 0)
    args.data_sizes = ints('--data-sizes', args.data_sizes or DATA_SIZES[
        args.full, args.quick], 4)
    if args.lrs is None:
        args.lrs = ([DEFAULT_LRS[0], DEFAULT_LRS[-1]] if args.quick else
                    list(DEFAULT_LRS))
    else:
        try:
            args.lrs = [float(v) for v in args.lrs]
        except ValueError:
            parser.error(f'--lrs: {args.lrs} are not all numbers')
        if any(lr <= 0 for lr in args.lrs) or len(set(args.lrs)) != len(
                args.lrs):
            parser.error(f'--lrs: {args.lrs}: give distinct numbers > 0')
    args.lrs = sorted(args.lrs)
    for flag in ('jobs', 'threads'):
        if getattr(args, flag) < 1:
            parser.error(f'--{flag}: {getattr(args, flag)}; give 1 or more')
    return args


def demo_settings(args) -> DemoSettings:
    return DemoSettings(**{
        k: getattr(args, k) for k in DemoSettings.__dataclass_fields__})


def main(argv: Optional[List[str]] = None) -> Dict:
    settings = demo_settings(parse_args(argv))
    try:
        return run(settings)
    except ComparisonError as e:  # another plan in the work dir
        sys.exit(f'run_demo.py: error: {e}')


if __name__ == '__main__':
    main()
