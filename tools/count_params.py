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
from contextlib import contextmanager

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
import torch  # noqa: E402
from adaptformer_mm.apis import load_config  # noqa: E402
from adaptformer_mm.peft import summarize_parameters  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import MODELS, init_default_scope  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

# The constructors torch.nn modules create parameter storage with. Others stay
# on the CPU: mmaction2's ViT reads its drop-path schedule back with
# torch.linspace(...).item() and builds its (small) sinusoid table from
# torch.arange, which a meta tensor cannot give.
_STORAGE_CONSTRUCTORS = (torch.empty, torch.zeros, torch.ones, torch.full,
                         torch.rand, torch.randn)


class _StorageOnMeta(TorchFunctionMode):

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _STORAGE_CONSTRUCTORS and kwargs.get('device') is None:
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


@contextmanager
def weights_on_meta():
    """Modules built inside have their parameters (and tensor buffers made
    with ``torch.empty/zeros/ones/full/rand/randn``) on the meta device."""
    with _StorageOnMeta():
        yield


def build_on_meta(cfg):
    """``cfg.model`` built in the config's scope with meta parameters: the
    shapes and trainable flags of :func:`adaptformer_mm.apis.build_model`,
    without allocating the weights."""
    if 'model' not in cfg:
        raise KeyError(f'config {cfg.filename or "(text)"} has no `model`')
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    with weights_on_meta():
        return MODELS.build(cfg.model).eval()


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
