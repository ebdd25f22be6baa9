"""Shared pieces of the reliability tests: tiny synthetic data, a tiny
pretrained VideoMAE ViT, configs written per test, tools/train.py in-process.

Subprocess runs (``run_python``) are used where a process must die or run
under torchrun; everything that fails before training starts runs
``tools/train.py``'s ``main`` in this process, which saves the ~8 s of
importing the stack per run.
"""
import itertools
import os.path as osp

import pytest
import torch

import adaptformer_mm  # noqa: F401  (stack fixes, registrations)

from ..conftest import DEMO_CONFIG, load_tool

# The tiny VideoMAE ViT of every reliability test (64x64, 8 frames).
TINY_VIT = dict(img_size=64, patch_size=16, embed_dims=32, depth=2,
                num_heads=2, num_frames=8, qkv_bias=True,
                norm_cfg=dict(type='LN', eps=1e-6))
SYNTHETIC = dict(task='direction', num_train=16, num_val=8, num_frames=16,
                 size=64, seed=0)
HOOKS_MODULE = 'tests.reliability.reliability_hooks'
_names = itertools.count()


@pytest.fixture(scope='session')
def reliability_data(tmp_path_factory):
    """``data_root`` of the synthetic clips, written once here so that
    concurrent training processes never race to generate them."""
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    root = str(tmp_path_factory.mktemp('reliability_data'))
    DATASETS.build(dict(type='SyntheticVideoDataset', data_root=root,
                        pipeline=[], **SYNTHETIC))
    return root


@pytest.fixture(scope='session')
def pretrained(tmp_path_factory):
    """A 'pretrained' stock mmaction2 VideoMAE ViT (random weights, seed 0)
    saved as ``{'state_dict': ...}``; returns (path, state)."""
    from mmaction.models.backbones.vit_mae import VisionTransformer
    torch.manual_seed(0)
    stock = VisionTransformer(**TINY_VIT)
    path = str(tmp_path_factory.mktemp('pretrained') / 'vit_tiny.pth')
    state = {k: v.clone() for k, v in stock.state_dict().items()}
    torch.save({'state_dict': state}, path)
    return path, state


def write_config(folder, data_root, pretrained_path,
                 backbone='AdaptFormerVideoViT', deterministic=True, extra=''):
    """A tiny, deterministic training config on the demo config.

    Deterministic: the val pipeline (no random crop) for training, one
    process loading data, a fixed seed; no validation. Runs inside the test
    process pass ``deterministic=False``: torch's deterministic-algorithms
    switch is global and would leak into later tests. ``extra`` is appended
    (Python config text) to override anything. Each call writes a new file
    name, because mmengine names a run's logger after the config file and the
    second of its start, and two in-process runs must not share one.
    """
    method = {
        'AdaptFormerVideoViT': 'adapter_cfg=dict(bottleneck=8)',
        'VPTVideoViT': 'prompt_cfg=dict(num_tokens=2, deep=True)',
    }[backbone]
    path = osp.join(str(folder), f'reliability_{next(_names)}.py')
    with open(path, 'w') as f:
        f.write(f'''
_base_ = [{DEMO_CONFIG!r}]
custom_imports = dict(imports=['adaptformer_mm', {HOOKS_MODULE!r}],
                      allow_failed_imports=False)
model = dict(
    backbone=dict(type={backbone!r}, {method}, embed_dims=32, depth=2,
                  num_heads=2,
                  init_cfg=dict(type='Pretrained',
                                checkpoint={pretrained_path!r})),
    cls_head=dict(in_channels=32))
synthetic = {SYNTHETIC!r}
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}, pipeline={{{{_base_.val_pipeline}}}},
                 **synthetic))
train_cfg = dict(max_epochs=2)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(save_best=None), logger=dict(interval=1))
custom_hooks = [dict(type='TunableSummaryHook'), dict(type='RecorderHook')]
randomness = dict(seed=0, deterministic={deterministic!r})
''' + extra)
    return path


def train_tool():
    """``tools/train.py`` as a module (it is a script, not in a package)."""
    return load_tool('train')
