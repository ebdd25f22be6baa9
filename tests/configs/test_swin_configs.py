"""The Swin AdaptFormer and VPT configs (video: Video Swin-B on SSv2 and
HMDB51; image: Swin-B IN-21k on CIFAR-100, SVHN and Food-101): each states
its tunable count, and builds and takes a step with a tiny Swin in place of
Swin-B. The Swin configs of the other methods are with the baseline recipes
(test_video_configs.py, test_image_configs.py)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from ..conftest import REPO
from ..models.backbones.tiny_families import SWIN, VIDEO_SWIN

SWIN_CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(
        osp.join(REPO, 'configs', '**', '*swin*.py'), recursive=True)
    if '_base_' not in p and osp.basename(p).startswith(
        ('adaptformer', 'vpt')))  # the other methods: tests/configs


def test_the_swin_configs_cover_both_methods_and_every_dataset():
    names = [c.split('/')[-1] for c in SWIN_CONFIGS]
    for method in ('adaptformer-dim12', 'vpt-deep-1'):
        for data in ('ssv2', 'hmdb51-split1'):
            assert (f'{method}_swin-base-p244-w877_in1k-k400-pre_8xb128-'
                    f'8x4x1-90e_{data}.py') in names
        for data in ('cifar100', 'svhn', 'food101'):
            assert (f'{method}_swin-base-w7_sup-in21k_8xb128-sgd-coslr-'
                    f'100e_{data}.py') in names
    assert len(names) == 10


@pytest.mark.parametrize('rel', SWIN_CONFIGS, ids=SWIN_CONFIGS)
def test_swin_config_states_its_count_and_builds(rel):
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(f'{REPO}/{rel}')
    text = open(f'{REPO}/{rel}').read()
    backbone = cfg.model.backbone
    assert backbone.arch == 'base'
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.prefix == 'backbone.'
    if 'adaptformer' in rel:
        assert backbone.adapter_cfg.bottleneck is None
        assert '1,161,948' in text
    else:
        assert dict(backbone.prompt_cfg) == dict(num_tokens=1, deep=True)
        assert '12,032' in text
    assert 'Paper: no number' in text
    video = cfg.default_scope == 'mmaction'
    init_default_scope(cfg.default_scope)
    small = dict((VIDEO_SWIN if video else SWIN).kwargs)
    backbone.update(small, init_cfg=None)
    if video:
        cfg.model.cls_head.in_channels = 64
        registry, x = VIDEO_SWIN.registry, torch.randn(2, 1, 3, 4, 32, 32)
        from mmaction.structures import ActionDataSample as Sample
    else:
        cfg.model.neck[1].input_features = 64
        cfg.model.head.in_channels = 64
        registry, x = SWIN.registry, torch.randn(2, 3, 32, 32)
        from mmpretrain.structures import DataSample as Sample
    model = registry.build(cfg.model)
    trainable = {n for n, p in model.backbone.named_parameters()
                 if p.requires_grad}
    assert trainable and all(('adaptmlp' in n) == ('adaptformer' in rel)
                             for n in trainable)
    model.train()
    losses = model(x, [Sample().set_gt_label(i) for i in range(2)],
                   mode='loss')
    loss = losses['loss_cls'] if video else losses['loss']
    assert torch.isfinite(loss)
