"""Every config under configs/ loads and builds; every video pipeline runs on
a generated clip; the paper's recipe is what the recipe configs say; new
datasets train from a short config; --auto-scale-lr gives 0.1 x batch / 256.

Models are shrunk (embed 64, depth 2 unless blocks are named, 64x64 input)
and each distinct pipeline runs once, so the module stays fast on 2 cores.
"""
import ast
import copy
import glob
import importlib.util
import json
import os
import os.path as osp
import re
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import adaptformer_mm  # noqa: F401  (registrations + stack fixes)
from adaptformer_mm.apis import build_on_meta
from adaptformer_mm.datasets.synthetic import write_video
from adaptformer_mm.datasets.pipeline import DATASET_WRAPPERS

from ..conftest import REPO
from .swin_baselines import (CLASS_PREFIXES, assert_is_the_recipe,
                             assert_loss_reaches_the_trainable,
                             assert_trains_its_part, header, stock_backbone)

CONFIG_ROOT = osp.join(REPO, 'configs')
# Tested by their owners' modules: image and cross-modality configs here in
# tests/configs/; the Swin ones (no ViT arguments to shrink): AdaptFormer and
# VPT in tests/models/backbones/test_swin.py, the baselines at the end of
# this module; the UniFormerV2 ones (no ViT arguments either) in
# tests/models/backbones/test_uniformerv2.py.
NOT_HERE = ('image', 'cross_modality')
CONFIGS = sorted(
    osp.relpath(p, CONFIG_ROOT)
    for p in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    if osp.relpath(p, CONFIG_ROOT).split(os.sep)[0] not in NOT_HERE
    and 'swin' not in osp.basename(p)
    and 'uniformerv2' not in osp.basename(p))
# The paper's video recipe (Table 1 backbone and schedule); the other widths
# are checked in test_vit_scales.py.
RECIPE = [c for c in CONFIGS if 'vit-base-p16_videomae-k400-pre' in c]
TABLE1 = {  # (dataset, method) -> AdaptFormer Table 1 top-1
    ('ssv2', 'linear-probe'): '29.23', ('ssv2', 'full-finetune'): '53.97',
    ('ssv2', 'vpt-deep-1'): '43.73', ('ssv2', 'adaptformer-64'): '59.02',
    ('hmdb51-split1', 'linear-probe'): '49.84',
    ('hmdb51-split1', 'full-finetune'): '46.41',
    ('hmdb51-split1', 'vpt-deep-1'): '52.67',
    ('hmdb51-split1', 'adaptformer-64'): '55.69',
}
NUM_CLASSES = {'ssv2': 174, 'hmdb51-split1': 51, 'k400': 400}
CLIP_FRAMES = 40  # > 8 frames x stride 4
EXAMPLES = sorted(c for c in CONFIGS if c.startswith('examples' + os.sep))


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


_cache = {}


def load(rel):
    if rel not in _cache:
        _cache[rel] = Config.fromfile(osp.join(CONFIG_ROOT, rel))
    return copy.deepcopy(_cache[rel])


def shrink_backbone(backbone, img_size=64):
    """Tiny width, depth 2 (12 when the config names blocks), no checkpoint."""
    backbone.update(embed_dims=64, num_heads=4, img_size=img_size)
    named = [backbone.get(k, {}).get('layers')
             for k in ('adapter_cfg', 'prompt_cfg')]
    backbone['depth'] = 12 if any(named) else 2
    backbone.pop('init_cfg', None)
    return backbone


def shrink_model(model):
    model = copy.deepcopy(model)
    if 'backbone' in model:
        shrink_backbone(model['backbone'])
    if 'in_channels' in model.get('cls_head', {}):
        model['cls_head']['in_channels'] = 64
    return model


def sample_frames(pipeline):
    return [s for s in pipeline if s['type'] == 'SampleFrames']


def video_dataset(dataset):
    """(innermost dataset config, clips per decoded video K)."""
    repeats = 1
    while dataset.get('type') in DATASET_WRAPPERS:
        if dataset.type == 'RepeatedAugDataset':
            repeats *= dataset.get('num_repeats', 2)
        dataset = dataset.dataset
    return dataset, repeats


# ------------------------------------------------------ load and build all
@pytest.mark.parametrize('rel', CONFIGS, ids=CONFIGS)
def test_config_loads_and_its_model_builds(rel):
    cfg = load(rel)
    if 'model' not in cfg:
        return  # a dataset / schedule / runtime base
    assert 'backbone' in cfg.model, f'{rel}: a model without a backbone'
    model = MODELS.build(shrink_model(cfg.model))
    frames = cfg.model.backbone.get('num_frames', 16)
    inputs = torch.randn(2, 1, 3, frames, 64, 64)
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    model.train()
    losses = model(inputs, samples, mode='loss')
    assert torch.isfinite(losses['loss_cls'])


def test_the_glob_covers_every_method_and_dataset():
    methods = {'adaptformer', 'vpt', 'linear_probe', 'full_finetune'}
    for method in methods:
        names = [c for c in RECIPE if c.startswith(method + os.sep)]
        for dataset in NUM_CLASSES:
            assert any(c.endswith(f'_{dataset}.py') for c in names), \
                (method, dataset)
    assert 'adaptformer_ssv2.py' in CONFIGS
    # AdaptFormer's ablations (44) and VPT's location, depth and output (17).
    assert len([c for c in CONFIGS if c.startswith('ablations')]) == 61
    # UniFormerV2 (CLIP): every method on every dataset, built and counted
    # by their owner's module.
    clip = [osp.basename(p) for p in glob.glob(
        osp.join(CONFIG_ROOT, 'uniformerv2', '*.py'))]
    for method in ('adaptformer-64', 'vpt-deep-1', 'linear-probe',
                   'full-finetune', 'lora-8'):
        for dataset in NUM_CLASSES:
            assert f'{method}_uniformerv2-base-p16_clip-pre_8xb128-8x4x1-' \
                f'90e_{dataset}.py' in clip, (method, dataset)


# ---------------------------------------------------------- paper recipe
@pytest.mark.parametrize('rel', RECIPE, ids=RECIPE)
def test_recipe_configs_follow_the_paper(rel):
    cfg = load(rel)
    backbone, head = cfg.model.backbone, cfg.model.cls_head
    frames = backbone.num_frames
    assert backbone.init_cfg == dict(
        type='Pretrained', prefix='backbone.',
        checkpoint='checkpoints/videomae_vit-base-p16_k400-pre-1600e_'
        'mmaction.pth')
    assert (backbone.embed_dims, backbone.depth, backbone.patch_size) == \
        (768, 12, 16)
    # MLP-k is the one method that changes the head (k = 1 is BNLinearHead).
    assert head.type in ('BNLinearHead', 'MLPHead')
    assert head.average_clips == 'score'
    # SGD, lr 0.1 x 1024 / 256, momentum 0.9, no decay, bf16 autocast,
    # 90 epochs with 10 of per-iteration warmup; with K clips per decoded
    # video (the fast data path) an epoch has K times the iterations.
    optim = cfg.optim_wrapper
    assert optim.type == 'AmpOptimWrapper' and optim.dtype == 'bfloat16'
    assert optim.optimizer == dict(type='SGD', lr=0.4, momentum=0.9,
                                   weight_decay=0.0)
    train_set, k = video_dataset(cfg.train_dataloader.dataset)
    assert cfg.train_cfg.max_epochs * k == 90
    warmup, cosine = cfg.param_scheduler
    assert warmup.end * k == 10 and warmup.convert_to_iter_based
    assert (cosine.begin * k, cosine.end * k, cosine.eta_min) == \
        (10, 90, 0.0)
    # 8 GPUs x batch x K = 1024 clips; the base batch that --auto-scale-lr
    # scales from counts the loader's batch (videos).
    assert 8 * cfg.train_dataloader.batch_size * k == 1024
    assert 8 * cfg.train_dataloader.batch_size == \
        cfg.auto_scale_lr.base_batch_size
    # Frames at stride 4, as many as the backbone is built for.
    for loader in ('train', 'val', 'test'):
        dataset, _ = video_dataset(cfg[f'{loader}_dataloader'].dataset)
        steps = sample_frames(dataset.pipeline)
        assert [(s.clip_len, s.frame_interval) for s in steps] == \
            [(frames, 4)]
    test = cfg.test_dataloader.dataset.pipeline
    assert sample_frames(test)[0].num_clips == 4
    assert any(s['type'] == 'ThreeCrop' and s.crop_size == 224 for s in test)
    train = train_set.pipeline
    crop = [s for s in train if s['type'] == 'MultiScaleCrop']
    assert crop and crop[0].scales == (1, 0.875, 0.75, 0.66)
    flips = any(s['type'] == 'Flip' for s in train)
    dataset = next(d for d in NUM_CLASSES if f'_{d}' in rel) \
        if not rel.startswith('examples') else None
    if dataset == 'ssv2':
        assert not flips  # direction classes
    # The paper's number is stated where Table 1 has one.
    text = open(osp.join(CONFIG_ROOT, rel)).read()
    if dataset is not None and 'ablations' not in rel:
        assert head.num_classes == NUM_CLASSES[dataset]
        method = osp.basename(rel).split('_')[0]
        if (dataset, method) in TABLE1:
            assert TABLE1[dataset, method] in text
        elif dataset == 'k400':
            assert 'no Kinetics-400 number' in text


def test_ablation_configs_match_their_generator(tmp_path):
    script = osp.join(REPO, 'tools', 'misc', 'make_ablation_configs.py')
    spec = importlib.util.spec_from_file_location('make_ablations', script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(['--out-dir', str(tmp_path)])
    for folder in ('ablations', osp.join('image', 'ablations')):
        made = sorted(osp.relpath(p, tmp_path) for p in glob.glob(
            str(tmp_path / folder / '*' / '*.py')))
        assert made == sorted(osp.relpath(p, CONFIG_ROOT) for p in glob.glob(
            osp.join(CONFIG_ROOT, folder, '*', '*.py')))
        for rel in made:
            assert open(tmp_path / rel).read() == \
                open(osp.join(CONFIG_ROOT, rel)).read(), rel


@pytest.mark.parametrize('rel, key, value', [
    ('adaptformer_bottleneck/adaptformer-4_', 'adapter_cfg.bottleneck', 4),
    ('adaptformer_layers/adaptformer-64-top6_', 'adapter_cfg.layers',
     list(range(6, 12))),
    ('adaptformer_layers/adaptformer-64-bottom6_', 'adapter_cfg.layers',
     list(range(6))),
    ('adaptformer_position/adaptformer-64-sequential_', 'adapter_cfg.mode',
     'sequential'),
    ('adaptformer_scale/adaptformer-64-s-learnable_',
     'adapter_cfg.learnable_scale', True),
    ('adaptformer_frames/adaptformer-64_vit-base-p16_videomae-k400-pre_'
     '8xb128-2x4x1-90e_ssv2.py', 'num_frames', 2),
    ('vpt_tokens/vpt-shallow-16_', 'prompt_cfg.deep', False),
])
def test_ablations_change_one_setting(rel, key, value):
    path = glob.glob(osp.join(CONFIG_ROOT, 'ablations', rel + '*'))
    assert len(path) == 1
    cfg = load(osp.relpath(path[0], CONFIG_ROOT))
    node = cfg.model.backbone
    for part in key.split('.'):
        node = node[part]
    assert node == value


def test_vpt_token_sweep_builds_the_stated_prompt_counts():
    for path in glob.glob(osp.join(CONFIG_ROOT, 'ablations', 'vpt_tokens',
                                   '*.py')):
        cfg = load(osp.relpath(path, CONFIG_ROOT))
        stated = int(re.search(r'\(([\d,]+) prompt', open(path).read())
                     .group(1).replace(',', ''))
        prompt = cfg.model.backbone.prompt_cfg
        assert stated == prompt.num_tokens * 768 * (12 if prompt.deep else 1)


# ---------------------------------------------------------------- pipelines
@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """One 64x64 mp4 clip (and its frames as jpgs), 40 frames."""
    root = tmp_path_factory.mktemp('media')
    clip = np.random.default_rng(0).integers(
        0, 255, (CLIP_FRAMES, 64, 64, 3), dtype=np.uint8)
    write_video(str(root / 'clip.mp4'), clip)
    os.makedirs(root / 'frames' / 'clip')
    for i, frame in enumerate(clip, 1):
        cv2.imwrite(str(root / 'frames' / 'clip' / f'img_{i:05d}.jpg'),
                    frame)
    (root / 'videos.txt').write_text('clip.mp4 0\n')
    (root / 'rawframes.txt').write_text(f'clip {CLIP_FRAMES} 0\n')
    return root


def _distinct_video_pipelines():
    """(dataset type, pipeline) of every dataloader of every config, once."""
    seen = {}
    for rel in CONFIGS:
        cfg = load(rel)
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            dataset = cfg.get(loader, {}).get('dataset')
            if dataset:
                dataset, _ = video_dataset(dataset)
            if not dataset or 'pipeline' not in dataset:
                continue
            steps = [s['type'] for s in dataset.pipeline]
            if 'DecordInit' not in steps and 'RawFrameDecode' not in steps:
                continue  # not a video pipeline
            key = json.dumps([dataset.type, dataset.pipeline],
                             sort_keys=True, default=str)
            seen.setdefault(key, (f'{rel}:{loader}', dataset))
    return sorted(seen.values(), key=lambda item: item[0])


PIPELINES = _distinct_video_pipelines()


@pytest.mark.parametrize('dataset', [d for _, d in PIPELINES],
                         ids=[name for name, _ in PIPELINES])
def test_video_pipeline_runs_on_a_generated_clip(dataset, media):
    pipeline = dataset.pipeline
    rawframes = any(s['type'] == 'RawFrameDecode' for s in pipeline)
    if dataset.type in ('VideoDataset', 'RawframeDataset'):
        built = DATASETS.build(dict(
            dataset,
            ann_file=str(media / ('rawframes.txt' if rawframes
                                  else 'videos.txt')),
            data_prefix=dict(img=str(media / 'frames')) if rawframes
            else dict(video=str(media))))
        sample = built[0]
    else:  # e.g. a synthetic dataset: its pipeline on our clip
        assert not rawframes
        sample = Compose(pipeline)(dict(
            filename=str(media / 'clip.mp4'), label=0, start_index=0,
            modality='RGB'))
    inputs = sample['inputs']
    sampler = sample_frames(pipeline)[0]
    crops = 3 if any(s['type'] == 'ThreeCrop' for s in pipeline) else 1
    assert inputs.ndim == 5
    assert inputs.shape[:3] == (sampler.get('num_clips', 1) * crops, 3,
                                sampler.clip_len)
    for step in pipeline:
        size = step.get('crop_size') or step.get('input_size')
        if step['type'] in ('CenterCrop', 'ThreeCrop', 'MultiScaleCrop'):
            assert inputs.shape[-2:] == (size, size)


FAST = [c for c in CONFIGS if c.endswith('-fast.py')]


@pytest.mark.parametrize('rel', FAST, ids=FAST)
def test_fast_data_path_loader_gives_k_clips_per_video(rel, media):
    cfg = load(rel)
    loader = cfg.train_dataloader
    inner, k = video_dataset(loader.dataset)
    assert k == 2 and loader.persistent_workers and loader.num_workers >= 8
    # The paper recipe's pipeline, only wrapped.
    paper = rel.replace('_8xb64x2-8x4x1-45e_', '_8xb128-8x4x1-90e_')
    assert inner.pipeline == load(paper.replace('-fast.py', '.py')
                                  ).train_dataloader.dataset.pipeline
    ann_file = media / 'two_videos.txt'
    ann_file.write_text('clip.mp4 0\nclip.mp4 1\n')
    inner.update(ann_file=str(ann_file), data_prefix=dict(video=str(media)))
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader.pop('prefetch_factor')
    batch = next(iter(Runner.build_dataloader(loader)))
    # 2 videos (shuffled) x K=2 clips, video-major, each clip with its
    # video's label.
    assert len(batch['inputs']) == 4
    labels = [s.gt_label.item() for s in batch['data_samples']]
    assert labels in ([0, 0, 1, 1], [1, 1, 0, 0])
    assert batch['inputs'][0].shape == (1, 3, 8, 224, 224)


# ------------------------------------------------- new dataset: one iteration
def tiny_pretrained(path):
    """A checkpoint in the converted layout (``backbone.*`` of a full
    recognizer) for the shrunk backbone, so the Pretrained init_cfg of the
    recipe (with its prefix) runs for real."""
    backbone = MODELS.build(shrink_backbone(dict(
        type='TunableVideoViT', patch_size=16, num_frames=8, qkv_bias=True,
        norm_cfg=dict(type='LN', eps=1e-6)), img_size=224))
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save({'state_dict': state}, path)
    return backbone


def cpu_runner(cfg, work_dir):
    """The config as is, on the CPU: fp32 OptimWrapper, no validation,
    single process, a unique experiment name (several runners per process)."""
    cfg.optim_wrapper = dict(type='OptimWrapper',
                             optimizer=cfg.optim_wrapper.optimizer)
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    cfg.experiment_name = f'test_{uuid.uuid4().hex[:8]}'
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = []
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('rel', EXAMPLES, ids=EXAMPLES)
def test_new_dataset_example_trains_one_iteration(rel, media, tmp_path):
    cfg = load(rel)
    base = load(parent_config(rel))
    # Only data paths and the class count differ from the parent.
    assert cfg.model.backbone == base.model.backbone
    assert cfg.model.cls_head.num_classes != base.model.cls_head.num_classes
    assert cfg.train_dataloader.dataset.pipeline == \
        base.train_dataloader.dataset.pipeline
    assert cfg.optim_wrapper == base.optim_wrapper

    videos = tmp_path / 'videos'
    num_classes = cfg.model.cls_head.num_classes
    os.makedirs(videos / 'a')
    lines = []
    for i in range(2):
        os.link(media / 'clip.mp4', videos / 'a' / f'{i}.mp4')
        lines.append(f'a/{i}.mp4 {(i * 7) % num_classes}\n')
    (tmp_path / 'train.txt').write_text(''.join(lines))
    pretrained = tiny_pretrained(str(tmp_path / 'pre.pth'))

    shrink_backbone(cfg.model.backbone, img_size=224)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'pre.pth'),
        prefix='backbone.')
    cfg.model.cls_head.in_channels = 64
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(
        ann_file=str(tmp_path / 'train.txt'),
        data_prefix=dict(video=str(videos)))
    cfg.train_cfg.max_epochs = 1
    runner = cpu_runner(cfg, tmp_path / 'work')
    runner.train()
    assert runner.iter == 1
    backbone = runner.model.backbone
    # The Pretrained init with prefix 'backbone.' filled the frozen weights
    # (and they stayed put).
    source = dict(pretrained.named_parameters())
    frozen = [(n, p) for n, p in backbone.named_parameters()
              if not p.requires_grad]
    assert len(frozen) > 10
    for name, param in frozen:
        assert torch.equal(param, source[name]), name
    assert any(p.requires_grad for n, p in backbone.named_parameters()
               if 'adaptmlp' in n)
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss)


def parent_config(rel):
    """The first ``_base_`` of a config, relative to configs/."""
    tree = ast.parse(open(osp.join(CONFIG_ROOT, rel)).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == '_base_':
            base = ast.literal_eval(node.value)
            return osp.normpath(osp.join(osp.dirname(rel), base[0]))
    raise AssertionError(f'{rel} has no _base_')


# ------------------------------------------------------------ auto-scale-lr
def _train_module():
    path = osp.join(REPO, 'tools', 'train.py')
    spec = importlib.util.spec_from_file_location('af_train', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Without a GPU, tools/train.py turns the recipe's AmpOptimWrapper into fp32
# (tested in tests/tools/test_train_test.py); the lr is the same either way.
@pytest.mark.filterwarnings('ignore:optim_wrapper.type=.AmpOptimWrapper')
@pytest.mark.parametrize('gpus, batch, auto', [
    (1, 4, True), (8, 128, True), (2, 32, True), (1, 4, False)])
def test_auto_scale_lr_gives_point_one_times_batch_over_256(
        gpus, batch, auto, tmp_path):
    train = _train_module()
    config = osp.join(CONFIG_ROOT, 'adaptformer_ssv2.py')
    args = train.parse_args(
        [config] + (['--auto-scale-lr'] if auto else []) +
        ['--cfg-options', f'train_dataloader.batch_size={batch}'])
    cfg = train.merge_args(Config.fromfile(config), args)
    shrink_backbone(cfg.model.backbone)
    cfg.model.cls_head.in_channels = 64
    runner = cpu_runner(cfg, tmp_path)
    runner._world_size = gpus  # what torchrun would give
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    # Runner.train() does exactly this before building the schedulers.
    runner.scale_lr(optim_wrapper, cfg.auto_scale_lr)
    lrs = [g['lr'] for g in optim_wrapper.param_groups]
    expected = 0.1 * gpus * batch / 256 if auto else 0.4
    assert lrs == pytest.approx([expected] * len(lrs))


# ------------------------------------------------------- Swin-B baselines
SWIN = 'swin-base-p244-w877_in1k-k400-pre_8xb128-8x4x1-90e'
SWIN_BASELINES = {  # folder -> (method part of the names, backbone count)
    'lora': ('lora-8', 577_536),
    'bitfit': ('bitfit', 137_216),
    'partial': ('partial-1', 12_679_392),
    'attentive_probe': ('attentive-probe', 3_151_872),
}
SWIN_ROWS = [(folder, dataset) for folder in SWIN_BASELINES
             for dataset in ('ssv2', 'hmdb51-split1')]
TINY_VIDEO_SWIN = dict(
    arch=dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4]),
    patch_size=(2, 4, 4), window_size=(2, 4, 4), drop_path_rate=0.0,
    out_indices=(1, ))


def swin_baseline(folder, dataset):
    method = SWIN_BASELINES[folder][0]
    return osp.join(folder, f'{method}_{SWIN}_{dataset}.py')


@pytest.mark.parametrize('folder, dataset', SWIN_ROWS)
def test_swin_baseline_is_the_adaptformer_swin_recipe(folder, dataset):
    cfg = load(swin_baseline(folder, dataset))
    recipe = load(osp.join('adaptformer',
                           f'adaptformer-dim12_{SWIN}_{dataset}.py'))
    assert cfg.model.backbone.type == CLASS_PREFIXES[folder] + 'VideoSwin'
    assert_is_the_recipe(cfg, recipe)
    assert 'Paper: no number' in header(
        osp.join(CONFIG_ROOT, swin_baseline(folder, dataset)))


@pytest.fixture(scope='module')
def video_swin_b():
    """mmaction2's SwinTransformer3D as the Swin-B recipe builds it, on the
    meta device."""
    base = load(osp.join('_base_', 'models', 'video-swin-base-p244-w877_'
                         'in1k-k400-pre_8x4x1.py'))
    return stock_backbone(MODELS, 'SwinTransformer3D', base.model.backbone,
                          meta=True)


@pytest.mark.parametrize('folder, dataset', SWIN_ROWS)
def test_swin_baseline_trains_the_count_its_header_states(
        folder, dataset, video_swin_b):
    """Swin-B (2/2/18/2 blocks, widths 128..1024), built on the meta
    device: the registered backbone trains the count of the header, which
    is what the method trains or adds on the stock model."""
    rel = swin_baseline(folder, dataset)
    count = SWIN_BASELINES[folder][1]
    assert f'= {count:,} parameters' in header(osp.join(CONFIG_ROOT, rel))
    backbone = build_on_meta(load(rel)).backbone
    assert all(p.is_meta for p in backbone.parameters())
    assert assert_trains_its_part(folder, backbone, video_swin_b) == count


@pytest.mark.parametrize('folder', SWIN_BASELINES)
def test_tiny_swin_baseline_trains_its_part_through_i3d_head(folder):
    """The config on a tiny Video Swin (widths 32/64, 2 + 2 blocks, windows
    2x4x4, 4 frames of 32x32): a loss through the recipe's I3DHead, and
    gradients on exactly the trainable tensors."""
    cfg = load(swin_baseline(folder, 'ssv2'))
    cfg.model.backbone.update(TINY_VIDEO_SWIN, init_cfg=None)
    cfg.model.cls_head.in_channels = 64
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    stock = stock_backbone(MODELS, 'SwinTransformer3D', cfg.model.backbone)
    backbone = model.backbone
    assert_trains_its_part(folder, backbone, stock)
    inputs = torch.randn(2, 1, 3, 4, 32, 32)
    if folder == 'attentive_probe':
        # One pooled token per clip, as a map I3DHead's pooling keeps.
        assert backbone(inputs[:, 0]).shape == (2, 64, 1, 1, 1)
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    assert_loss_reaches_the_trainable(model, inputs, samples, 'loss_cls')
