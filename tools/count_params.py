"""The paper-style parameter report of a config.

    python tools/count_params.py CONFIG [--cfg-options k=v ...]

Builds the model (no weights loaded, no data read) and prints what trains:
``trainable params: N || all params: M || trainable%: x``, the tunable
millions as the papers give them (AdaptFormer-64 on ViT-B: 1.19M adapters)
and one line per trainable module. The numbers are those the training log
shows (``TunableSummaryHook``): both are ``summarize_parameters`` of the
built model.

The parameters are built on PyTorch's meta device (shapes and
``requires_grad`` only, no storage), so a ViT-g (1.0B parameters) is counted
in a second without its 4 GB of weights.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.apis import build_on_meta, load_config  # noqa: E402
from adaptformer_mm.peft import summarize_parameters  # noqa: E402
from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Count trainable and frozen parameters of a config')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.backbone.depth=2')
    return parser.parse_args(argv)


def report(model) -> str:
    """The report text for a built model."""
    summary = summarize_parameters(model)
    backbone = getattr(model, 'backbone', model)
    return '\n'.join([
        f'model: {type(model).__name__} / backbone: '
        f'{type(backbone).__name__}',
        f'tunable: {summary.trainable / 1e6:.2f}M '
        f'({summary.percent:.2f}%) of {summary.total / 1e6:.2f}M',
        summary.format(),
    ])


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_on_meta(cfg)
    print(f'config: {args.config}\n' + report(model))
    return summarize_parameters(model)


if __name__ == '__main__':
    main()
