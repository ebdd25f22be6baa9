"""The image ViT configs of the VPT paper's baselines, LoRA and the
attentive probe (CIFAR-100): the image recipe, and a tiny build that trains
what the method says. (Their video configs, demo ones included, are loaded,
built and checked against the recipe by test_video_configs.py; the Swin-B
ones, video and image, by the Swin rows of test_video_configs.py and
test_image_configs.py.)"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import adaptformer_mm  # noqa: F401  (registrations + stack fixes)

from ..conftest import REPO

IMAGE_ROOT = osp.join(REPO, 'configs', 'image')
FOLDERS = ('partial', 'bitfit', 'mlp_head', 'lora', 'attentive_probe')
CONFIGS = sorted(
    osp.relpath(p, IMAGE_ROOT) for f in FOLDERS
    for p in glob.glob(osp.join(IMAGE_ROOT, f, '*.py'))
    if 'swin' not in osp.basename(p))
ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)


def trains(folder, name):
    """What may train in the backbone of a ``folder`` config."""
    return {
        'partial': name.startswith(('layers.1.', 'ln1.')),
        'bitfit': name.endswith('bias'),
        'mlp_head': False,
        'lora': '.lora.' in name,
        'attentive_probe': name.startswith('pooler.'),
    }[folder]


def test_every_baseline_has_both_image_backbones():
    assert len(CONFIGS) == 2 * len(FOLDERS)
    for pretrain in ('mae-in1k', 'sup-in21k'):
        assert len([c for c in CONFIGS if pretrain in c]) == len(FOLDERS)


@pytest.mark.parametrize('rel', CONFIGS, ids=CONFIGS)
def test_image_baseline_follows_the_recipe_and_trains_its_part(rel):
    folder = rel.split(osp.sep)[0]
    cfg = Config.fromfile(osp.join(IMAGE_ROOT, rel))
    assert 'Paper: no number' in open(osp.join(IMAGE_ROOT, rel)).read()
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'SGD', 0.4, 0.9, 0.0)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.model.head.num_classes == 100
    assert 'TunableCheckpointHook' in [h.type for h in cfg.custom_hooks]

    cfg.model.backbone.arch = ARCH
    cfg.model.backbone.update(init_cfg=None, img_size=32)
    cfg.model.neck.input_features = 64
    cfg.model.head.in_channels = 64
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in backbone.named_parameters()
                         if trains(folder, n)}
    assert bool(trainable) == (folder != 'mlp_head')
    if folder == 'mlp_head':
        assert type(model.head).__name__ == 'MLPClsHead'
        assert model.head.mlp_cfg.num_layers == 3

    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    model.train()
    loss = model(inputs, samples, mode='loss')['loss']
    loss.backward()
    assert torch.isfinite(loss)
    with_grad = {n for n, p in backbone.named_parameters()
                 if p.grad is not None}
    assert with_grad == trainable
