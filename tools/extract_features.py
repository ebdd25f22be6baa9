"""Pooled features of a dataset split under a checkpoint, extracted once.

    python tools/extract_features.py CONFIG CHECKPOINT [--split val]
        [--out FILE] [--force] [--backbone-only] [--batch-size N]
        [--num-workers N] [--device cpu] [--cfg-options k=v ...]
        [--probe [--probe-layers K] [--probe-epochs E] [--probe-lr LR]]

Runs the backbone of CONFIG's model, loaded from CHECKPOINT (full,
tunable-only or task file; ``--backbone-only``: just the ``backbone.*``
tensors of any checkpoint, e.g. a pre-training run's), over the split in
order, one un-augmented view per sample (``train`` through the val
pipeline; a wrapper that repeats samples, ``RepeatedAugDataset``, is
dropped with its collate function; a data-scale subset is kept), batched,
with a progress bar, and writes the ``(N, d)`` features and labels to FILE
(default ``{work_dir}/features/{split}_{key}.pth``, the key a hash of the
model config, the split's dataset config with every wrapper and pipeline,
the checkpoint's bytes and the split). An existing FILE of the same key is
reused; one of another key is refused unless ``--force``.

``--probe`` also extracts (or reuses) ``train`` and trains a head on the
cached train features with an mmengine Runner (the recipes' ``BNLinearHead``,
MAE's BatchNorm + Linear; ``--probe-layers K``: an ``MLPHead`` with K hidden
ReLU layers before it), then prints its top-1 on SPLIT: seconds, not a
training run. Read the files with
``adaptformer_mm.analysis.features.FeatureSet.load`` or
``CachedFeatureDataset``; draw them with ``tools/analysis/tsne.py``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.apis import load_config  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_cfg_options, add_config_argument, add_device_option, tool_parser)
from adaptformer_mm.analysis.features import (  # noqa: E402
    SPLITS, cached_features, train_probe)


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    add_config_argument(parser)
    parser.add_argument('checkpoint', help='checkpoint of the config (or, '
                        'with --backbone-only, any with backbone.* tensors)')
    parser.add_argument('--split', default='val', choices=SPLITS)
    parser.add_argument('--out', help='feature file (default: under the '
                        "config's work_dir, keyed by config, checkpoint "
                        'and split)')
    parser.add_argument('--force', action='store_true',
                        help='re-extract and overwrite --out')
    parser.add_argument('--backbone-only', action='store_true',
                        help='load only the backbone.* tensors of '
                        'CHECKPOINT')
    parser.add_argument('--batch-size', type=int,
                        help="override the split's batch size")
    parser.add_argument('--num-workers', type=int,
                        help="override the split's worker count")
    add_device_option(parser)
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--probe', action='store_true',
                        help='train a head on cached train features and '
                        'report its top-1 on --split')
    parser.add_argument('--probe-layers', type=int, default=0,
                        help='hidden ReLU layers of the probe (0: linear)')
    parser.add_argument('--probe-epochs', type=int, default=100)
    parser.add_argument('--probe-lr', type=float, default=1e-3)
    add_cfg_options(
        parser, 'override config settings, e.g. test_dataloader.batch_size=8')
    args = parser.parse_args(argv)
    if args.probe and args.split == 'train':
        parser.error('--probe reports on --split; use val or test')
    if args.probe and args.out:
        parser.error('--probe writes two files (train and --split): leave '
                     '--out to the default')
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    common = dict(force=args.force, backbone_only=args.backbone_only,
                  batch_size=args.batch_size, num_workers=args.num_workers,
                  device=args.device, progress=not args.no_progress)
    results = {}
    for split in (['train'] if args.probe else []) + [args.split]:
        data, path, reused = cached_features(cfg, args.checkpoint, split,
                                             out=args.out, **common)
        verb = 'reused' if reused else 'wrote'
        print(f'{verb} {path}: {split} split, {len(data.labels)} samples x '
              f'{data.features.shape[1]} features')
        results[split] = (data, path)
    if args.probe:
        _, top1 = train_probe(results['train'][0], results[args.split][0],
                              hidden_layers=args.probe_layers,
                              epochs=args.probe_epochs, lr=args.probe_lr)
        kind = 'linear' if args.probe_layers == 0 else \
            f'MLP-{args.probe_layers + 1}'
        print(f'{kind} probe on cached train features: top-1 on '
              f'{args.split} = {100 * top1:.2f}')
        results['probe_top1'] = top1
    return results


if __name__ == '__main__':
    main()
