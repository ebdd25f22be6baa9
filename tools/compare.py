"""Compare tuning methods given as configs on one dataset.

An lr grid on val, the shared and tuned protocols, seeds on test, and a
Table-1 style report with figures.

Each CONFIG is one method (e.g. the four HMDB51 recipes side by side, or
configs of your own that inherit them); they must train on the same data and
classes. Every run is an ordinary ``tools/train.py`` run of a short config
inheriting the method's, with the run's lr, seed and data size; stages run
locally, through ``tools/dist_train.sh`` or as one Slurm job array through
``tools/slurm_train.sh``. Run again with the same arguments, it reuses every
finished stage and reports what is missing. Details: ``docs/comparison.md``;
the logic is :mod:`adaptformer_mm.experiments`. Usage::

    python tools/compare.py CONFIG... --lrs LR... --work-dir DIR
        [--seeds 0 1 2] [--protocol shared|tuned|both] [--data-sizes ...]
        [--launcher none|pytorch|slurm] [--gpus N] [--partition P]
        [--jobs J] [--threads T]
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from adaptformer_mm.experiments import (  # noqa: E402
    LAUNCHERS, PROTOCOLS, ComparisonError, compare)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG',
                        help='one config per method')
    parser.add_argument('--lrs', nargs='+', type=float, required=True,
                        metavar='LR', help='the lr grid, scored on val')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        metavar='SEED',
                        help='transfer seeds (default 0 1 2); the first '
                        'also runs the grid')
    parser.add_argument('--protocol', default='both',
                        choices=sorted(PROTOCOLS) + ['both'],
                        help='shared: one lr for every method (best mean '
                        "val); tuned: each method's own best lr; both "
                        '(default)')
    parser.add_argument('--data-sizes', nargs='+', metavar='SIZE',
                        help='training samples per class (ints) or '
                        'fractions of the training set (0.1), through '
                        "ClassBalancedSubset (default: the configs' own "
                        'training set); the grid runs on the largest')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS,
                        help='none: a local pool; pytorch: each stage '
                        'through tools/dist_train.sh; slurm: one job array '
                        'through tools/slurm_train.sh (default none)')
    parser.add_argument('--gpus', type=int, default=1,
                        help='GPUs (processes) per stage under pytorch and '
                        'slurm (default 1)')
    parser.add_argument('--partition', help='Slurm partition (slurm)')
    parser.add_argument('--jobs', type=int, default=None,
                        help='stages side by side (default 1; slurm: array '
                        'tasks at once, default unlimited)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (OMP_NUM_THREADS) per stage '
                        '(default 1)')
    parser.add_argument('--work-dir', required=True,
                        help='folder of the stages and the report; an '
                        'earlier comparison with the same arguments there '
                        'is continued')
    args = parser.parse_args(argv)
    for flag in ('gpus', 'jobs', 'threads'):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f'--{flag}: {value}; give 1 or more')
    return parser, args


def main(argv: Optional[List[str]] = None) -> Dict:
    parser, args = parse_args(argv)
    protocols = (sorted(PROTOCOLS) if args.protocol == 'both' else
                 [args.protocol])
    try:
        return compare(args.configs, args.lrs, args.seeds, args.work_dir,
                       protocols, args.data_sizes, args.launcher, args.gpus,
                       args.partition, args.jobs, args.threads)
    except ComparisonError as e:
        parser.error(str(e))


if __name__ == '__main__':
    main()
