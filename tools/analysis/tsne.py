"""t-SNE of cached final features, one panel per method, coloured by class.

    python tools/analysis/tsne.py FEATURES [FEATURES ...] --out tsne.png
        [--force] [--names NAME ...] [--perplexity 30] [--iterations 1000]
        [--max-points 2000] [--seed 0] [--title TEXT]

Each FEATURES is a file of ``tools/extract_features.py`` (the same split of
the same dataset for every method: the labels must agree); each becomes a
panel titled by ``--names`` (default: its config's name), as VPT's
t-SNE figures compare methods on one test set. An existing ``--out`` is
overwritten only with ``--force``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from adaptformer_mm.cli import (  # noqa: E402
    add_force_option, refuse_overwrite, tool_parser)
from adaptformer_mm.analysis.features import (  # noqa: E402
    FeatureSet, same_samples)
from adaptformer_mm.analysis.tsne import plot_tsne  # noqa: E402


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument('features', nargs='+',
                        help='feature files of tools/extract_features.py')
    parser.add_argument('--out', required=True, help='PNG to write')
    add_force_option(parser, '--out')
    parser.add_argument('--names', nargs='+',
                        help='one panel title per feature file')
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--iterations', type=int, default=1000)
    parser.add_argument('--max-points', type=int, default=2000,
                        help='class-balanced subsample (0: all)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--title')
    args = parser.parse_args(argv)
    if args.names and len(args.names) != len(args.features):
        parser.error(f'--names gives {len(args.names)} name(s) for '
                     f'{len(args.features)} feature file(s)')
    refuse_overwrite(parser, args, 'out')
    return args


def panel_name(data: FeatureSet, path: str) -> str:
    config = data.meta.get('config')
    return osp.splitext(osp.basename(config or path))[0].split('_')[0]


def main(argv=None):
    args = parse_args(argv)
    sets = [FeatureSet.load(p) for p in args.features]
    names = args.names or [panel_name(d, p)
                           for d, p in zip(sets, args.features)]
    if len(set(names)) != len(names):
        names = [f'{n} ({i + 1})' for i, n in enumerate(names)]
    labels = same_samples(sets, args.features)
    embeddings = plot_tsne(
        {n: d.features.numpy() for n, d in zip(names, sets)},
        labels.numpy(), args.out, class_names=sets[0].classes or None,
        perplexity=args.perplexity, iterations=args.iterations,
        max_points=args.max_points or None, seed=args.seed,
        title=args.title)
    print(f'wrote {args.out}: {len(names)} panel(s), '
          f'{len(next(iter(embeddings.values())))} points each')
    return embeddings


if __name__ == '__main__':
    main()
