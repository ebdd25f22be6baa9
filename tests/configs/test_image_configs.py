"""Every image and cross-modality config loads and builds (tiny models);
each dataset's train and test pipelines run through mmengine's Runner on a
few generated samples in the official formats; frozen tensors stay
bit-identical through training; the recipe is the paper's.
"""
import glob
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image
from scipy.io import savemat

import adaptformer_mm  # noqa: F401  (registrations + stack fixes)
from adaptformer_mm.apis import build_on_meta
from adaptformer_mm.peft import tunable_state_dict

from ..conftest import REPO
from .swin_baselines import (CLASS_PREFIXES, assert_is_the_recipe,
                             assert_loss_reaches_the_trainable,
                             assert_trains_its_part, header, stock_backbone)

IMAGE_ROOT = osp.join(REPO, 'configs', 'image')
# The paper's image grid (Table 1 of AdaptFormer: four methods x three
# datasets x two pre-trainings). The ViT baselines' recipes are checked in
# test_baseline_recipes.py, the Swin-B baselines at the end of this module,
# AdaptFormer and VPT on Swin in models/backbones/test_swin.py.
GRID_METHODS = ('adaptformer', 'full', 'linear', 'vpt')
IMAGE_CONFIGS = sorted(
    osp.relpath(p, IMAGE_ROOT)
    for method in GRID_METHODS
    for p in glob.glob(osp.join(IMAGE_ROOT, method, '*.py'))
    if 'swin' not in osp.basename(p))
CROSS_ROOT = osp.join(REPO, 'configs', 'cross_modality')
CROSS_CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(CROSS_ROOT, '*.py')))

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)
PAPER_MAE = {  # method-spec Table 1: CIFAR-100, SVHN, Food-101
    'linear': (69.83, 66.91, 69.74), 'full': (85.90, 97.67, 90.09),
    'vpt-deep-1': (82.44, 94.02, 82.98),
    'adaptformer-64': (85.90, 96.89, 87.61)}
DATASETS = ('cifar100', 'svhn', 'food101')


def shrink(cfg, checkpoint=None):
    """Tiny backbone (embed 64, depth 2) at the configs' 224 input."""
    cfg.model.backbone.arch = ARCH
    cfg.model.backbone.init_cfg = (
        dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
        if checkpoint else None)
    cfg.model.neck.input_features = 64
    cfg.model.head.in_channels = 64
    return cfg


def test_the_grid_is_complete():
    names = {osp.basename(c) for c in IMAGE_CONFIGS}
    assert len(names) == 24
    for method in PAPER_MAE:
        for pretrain in ('mae-in1k', 'sup-in21k'):
            for data in DATASETS:
                assert (f'{method}_vit-base-p16_{pretrain}_8xb128-sgd-'
                        f'coslr-100e_{data}.py') in names
    assert len(CROSS_CONFIGS) == 4


@pytest.mark.parametrize('name', IMAGE_CONFIGS)
def test_image_config_loads_states_the_paper_and_builds(name):
    path = osp.join(IMAGE_ROOT, name)
    cfg = Config.fromfile(path)
    text = open(path).read()
    method, _, pretrain, _, data = osp.basename(name)[:-3].split('_')
    if pretrain == 'mae-in1k':
        expected = PAPER_MAE[method][DATASETS.index(data)]
        assert f'{expected:.2f} top-1' in text
    else:
        assert 'Paper: no number' in text
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports.imports == ['adaptformer_mm']
    # The paper's image recipe.
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'SGD', 0.4, 0.9, 0.0)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.param_scheduler[0].end == 20
    assert cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_dataloader.batch_size * 8 == 1024
    preprocessor = cfg.model.data_preprocessor
    assert preprocessor.to_rgb == (data == 'food101')
    assert preprocessor.mean == ([127.5] * 3 if pretrain == 'sup-in21k'
                                 else [123.675, 116.28, 103.53])
    assert cfg.model.head.num_classes == {'cifar100': 100, 'svhn': 10,
                                          'food101': 101}[data]
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(shrink(cfg).model)
    backbone = model.backbone
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    if method == 'full':
        assert backbone.tuning == 'full' and len(trainable) == len(
            list(backbone.parameters()))
    elif method == 'linear':
        assert type(backbone).__name__ == 'TunableViT' and not trainable
    elif method == 'vpt-deep-1':
        assert trainable == {'prompts.prompts'}
        assert backbone.prompts.prompts.shape == (2, 1, 64)
    else:
        assert all('adaptmlp' in n for n in trainable)
        assert backbone.layers[0].adaptmlp.dropout.p == 0.1
        assert backbone.layers[0].adaptmlp.bottleneck == 64


# ---------------------------------------------------------- tiny datasets
def write_cifar100(root, monkeypatch):
    """The python pickle batches of cifar-100-python; mmpretrain checks the
    official md5 sums, which tiny files cannot match."""
    from mmpretrain.datasets import CIFAR100
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (('train', 4), ('test', 2)):
        with open(folder / split, 'wb') as f:
            pickle.dump({'data': rng.integers(0, 256, (n, 3072),
                                              dtype=np.uint8),
                         'fine_labels': list(range(n))}, f)
    monkeypatch.setattr(CIFAR100, 'train_list', [['train', None]])
    monkeypatch.setattr(CIFAR100, 'test_list', [['test', None]])


def write_svhn(root, monkeypatch):
    rng = np.random.default_rng(0)
    for split, n in (('train', 4), ('test', 2)):
        savemat(str(root / f'{split}_32x32.mat'), {
            'X': rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
            'y': np.arange(1, n + 1).reshape(-1, 1) % 10 + 1})


def write_food101(root, monkeypatch):
    rng = np.random.default_rng(0)
    (root / 'meta').mkdir(parents=True)
    for split, n in (('train', 4), ('test', 2)):
        lines = []
        for i in range(n):
            cls = ('apple_pie', 'waffles')[i % 2]
            (root / 'images' / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (40, 52, 3),
                                         dtype=np.uint8)).save(
                root / 'images' / cls / f'{split}{i}.jpg')
            lines.append(f'{cls}/{split}{i}')
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(lines))


WRITERS = dict(cifar100=write_cifar100, svhn=write_svhn,
               food101=write_food101)
RUNS = [('adaptformer', 'adaptformer-64', 'mae-in1k', 'cifar100'),
        ('vpt', 'vpt-deep-1', 'sup-in21k', 'svhn'),
        ('linear', 'linear', 'mae-in1k', 'food101')]


@pytest.mark.parametrize('folder, method, pretrain, data', RUNS)
def test_one_epoch_on_tiny_data_keeps_frozen_tensors(
        tmp_path, monkeypatch, folder, method, pretrain, data):
    from mmpretrain.models import VisionTransformer
    data_root = tmp_path / data
    data_root.mkdir()
    WRITERS[data](data_root, monkeypatch)
    torch.manual_seed(0)
    stock = VisionTransformer(arch=ARCH, img_size=224)
    pretrained = str(tmp_path / 'pretrained.pth')
    torch.save({'state_dict': {'backbone.' + k: v for k, v in
                               stock.state_dict().items()}}, pretrained)

    cfg = Config.fromfile(osp.join(
        IMAGE_ROOT, folder,
        f'{method}_vit-base-p16_{pretrain}_8xb128-sgd-coslr-100e_{data}.py'))
    shrink(cfg, checkpoint=pretrained)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    # Weight decay and momentum on purpose: frozen tensors sit in the
    # optimizer (no paramwise_cfg) and must still not move.
    cfg.optim_wrapper.optimizer.weight_decay = 0.05
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=2, num_workers=0,
                           persistent_workers=False)
        cfg[loader].dataset.data_root = str(data_root)
    cfg.default_hooks.checkpoint.interval = 100
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2  # 4 samples, batch 2
    assert 'val/accuracy/top1' in runner.message_hub.log_scalars
    frozen = {k: v for k, v in stock.state_dict().items()}
    state = runner.model.backbone.state_dict()
    for key, value in frozen.items():
        assert torch.equal(state[key], value), key
    trainable = {n for n, p in runner.model.named_parameters()
                 if p.requires_grad}
    assert trainable and all(
        n.startswith(('head.', 'backbone.prompts', 'neck.')) or 'adaptmlp' in n
        for n in trainable)
    # The recipe's runtime saves only what trains (and the task file).
    ckpt = torch.load(osp.join(cfg.work_dir, 'epoch_1.pth'),
                      weights_only=False)
    assert set(ckpt['state_dict']) == set(tunable_state_dict(runner.model))
    assert osp.isfile(osp.join(cfg.work_dir, 'task.pth'))


# ------------------------------------------------------- cross-modality
@pytest.mark.parametrize('name', CROSS_CONFIGS)
def test_cross_modality_config_builds_and_loads_an_inflated_image_vit(
        name, tmp_path, monkeypatch):
    from mmaction.registry import MODELS
    from mmpretrain.models import VisionTransformer

    from adaptformer_mm.models.backbones import tunable_base
    from adaptformer_mm.models.convert import save_converted
    from adaptformer_mm.models.convert_image import inflate_image_to_video
    torch.manual_seed(0)
    image = VisionTransformer(arch=ARCH, img_size=32)
    path = str(tmp_path / 'inflated.pth')
    save_converted(inflate_image_to_video(
        {'model': {'backbone.' + k: v
                   for k, v in image.state_dict().items()}},
        num_frames=8, img_size=32), path)

    cfg = Config.fromfile(osp.join(CROSS_ROOT, name))
    assert cfg.model.backbone.use_learnable_pos_emb is True
    assert cfg.model.backbone.num_frames == 8
    assert cfg.model.cls_head.num_classes == 174
    assert cfg.train_pipeline[1] == dict(type='SampleFrames', clip_len=8,
                                         frame_interval=4, num_clips=1)
    assert not any(t.type == 'Flip' for t in cfg.train_pipeline)
    backbone = cfg.model.backbone
    backbone.update(img_size=32, embed_dims=64, depth=2, num_heads=4)
    backbone.init_cfg.checkpoint = path
    cfg.model.cls_head.in_channels = 64
    logs = []
    monkeypatch.setattr(tunable_base, 'print_log',
                        lambda msg, **kw: logs.append(msg))
    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert not [m for m in logs if 'FROZEN' in m or 'ignored' in m]
    torch.testing.assert_close(
        model.backbone.patch_embed.projection.weight[:, :, 0],
        image.patch_embed.projection.weight / 2)
    clip = torch.randn(1, 3, 8, 32, 32)
    assert model.backbone(clip).shape == (1, 64)


# ------------------------------------------------------- Swin-B baselines
SWIN = 'swin-base-w7_sup-in21k_8xb128-sgd-coslr-100e'
SWIN_BASELINES = {  # folder -> (method part of the name, backbone count)
    'lora': ('lora-8', 577_536),
    'bitfit': ('bitfit', 137_216),
    'partial': ('partial-1', 12_603_680),
    'attentive_probe': ('attentive-probe', 3_151_872),
}
TINY_SWIN = dict(arch=dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4]),
                 img_size=32, patch_size=4, window_size=4,
                 drop_path_rate=0.0, out_indices=(1, ))


def swin_baseline(folder):
    return osp.join(IMAGE_ROOT, folder,
                    f'{SWIN_BASELINES[folder][0]}_{SWIN}_cifar100.py')


@pytest.mark.parametrize('folder', SWIN_BASELINES)
def test_swin_baseline_is_the_adaptformer_swin_recipe(folder):
    cfg = Config.fromfile(swin_baseline(folder))
    recipe = Config.fromfile(osp.join(
        IMAGE_ROOT, 'adaptformer', f'adaptformer-dim12_{SWIN}_cifar100.py'))
    assert cfg.model.backbone.type == CLASS_PREFIXES[folder] + 'Swin'
    assert_is_the_recipe(cfg, recipe)
    assert 'Paper: no number' in header(swin_baseline(folder))


@pytest.fixture(scope='module')
def swin_b():
    """mmpretrain's SwinTransformer as the Swin-B recipe builds it, on the
    meta device."""
    from mmpretrain.registry import MODELS
    base = Config.fromfile(osp.join(IMAGE_ROOT, '_base_', 'models',
                                    'swin-base-w7_sup-in21k.py'))
    return stock_backbone(MODELS, 'SwinTransformer', base.model.backbone,
                          meta=True)


@pytest.mark.parametrize('folder', SWIN_BASELINES)
def test_swin_baseline_trains_the_count_its_header_states(folder, swin_b):
    """Swin-B (2/2/18/2 blocks, widths 128..1024), built on the meta
    device: the registered backbone trains the count of the header, which
    is what the method trains or adds on the stock model."""
    count = SWIN_BASELINES[folder][1]
    assert f'= {count:,} parameters' in header(swin_baseline(folder))
    backbone = build_on_meta(Config.fromfile(swin_baseline(folder))).backbone
    assert all(p.is_meta for p in backbone.parameters())
    assert assert_trains_its_part(folder, backbone, swin_b) == count


@pytest.mark.parametrize('folder', SWIN_BASELINES)
def test_tiny_swin_baseline_trains_its_part_through_the_recipe_head(folder):
    """The config on a tiny Swin (widths 32/64, 2 + 2 blocks, windows 4,
    32x32 images): a loss through the recipe's neck and head, and gradients
    on exactly the trainable tensors."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(swin_baseline(folder))
    cfg.model.backbone.update(TINY_SWIN, init_cfg=None)
    cfg.model.neck[1].input_features = 64
    cfg.model.head.in_channels = 64
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    stock = stock_backbone(MODELS, 'SwinTransformer', cfg.model.backbone)
    backbone = model.backbone
    assert_trains_its_part(folder, backbone, stock)
    inputs = torch.randn(2, 3, 32, 32)
    if folder == 'attentive_probe':
        # One pooled token per image, as a map the pooling neck keeps.
        out = backbone(inputs)
        out = out if torch.is_tensor(out) else out[-1]
        assert out.shape == (2, 64, 1, 1)
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    assert_loss_reaches_the_trainable(model, inputs, samples, 'loss')
