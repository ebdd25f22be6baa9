"""Every tool that reads a config, on every kind of config the project ships.

One representative per kind (a plain video recipe, a ``*-fast`` recipe with
repeated augmentation, a data-scale fraction and a k-shot subset, an image
recipe on mmpretrain, a Swin recipe, an FSDP recipe, the demo, and the
example of a short config inheriting a recipe for a folder of one's own
videos), each shrunk to a tiny
model by a child config that inherits it (``_base_``), on tiny generated
videos or images. Every tool runs in this process through its ``main``.

A new tool is a new entry of ``TOOLS``; a new kind of config a new ``Kind``.
Where a tool does not apply to a kind, ``REFUSED`` says why, and the tool
must stop with a message that says so.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import adaptformer_mm  # noqa: F401  (stack fixes + registrations)
from adaptformer_mm.apis import build_model
from adaptformer_mm.analysis.features import FeatureSet
from adaptformer_mm.datasets.pipeline import unwrap_dataset_cfg

from ..conftest import REPO, load_tool
from ..engine.equivalence import free_port

CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS = 2, 6, 2
FRAMES, SIDE = 40, 64  # generated clips: 40 frames of 64 x 64


@dataclass(frozen=True)
class Kind:
    """A kind of config: the shipped representative and how to shrink it.

    Args:
        config: Path under ``configs/``.
        backbone: Overrides that make the backbone tiny.
        head: Overrides of the head (its input width).
        media: 'videos', 'images' or 'synthetic' (the demo's generator).
        model: Other overrides of ``model`` (e.g. a neck's width).
        sharded: Trains only under a launcher (``tools/dist_train.sh``;
            ``tools/train.py`` alone refuses it, naming the launcher).
        wrapper: The training set's outermost wrapper ('' for none).
        train_samples: Training samples it reads (a subset of the list).
    """
    config: str
    backbone: dict
    head: dict
    media: str = 'videos'
    model: dict = field(default_factory=dict)
    sharded: bool = False
    wrapper: str = ''
    train_samples: int = CLASSES * TRAIN_PER_CLASS


VIDEO_VIT = dict(embed_dims=32, depth=1, num_heads=2)
KINDS = {
    'video': Kind(
        'adaptformer/adaptformer-64_vit-base-p16_videomae-k400-pre_'
        '8xb128-8x4x1-90e_ssv2.py', VIDEO_VIT, dict(in_channels=32)),
    'video-fast': Kind(
        'adaptformer/adaptformer-64_vit-base-p16_videomae-k400-pre_'
        '8xb64x2-8x4x1-45e_ssv2-fast.py', VIDEO_VIT, dict(in_channels=32),
        wrapper='RepeatedAugDataset'),
    'fraction': Kind(
        'data_scales/adaptformer_hmdb51-split1/adaptformer-64_vit-base-p16_'
        'videomae-k400-pre_8xb128-8x4x1-90e_hmdb51-split1-50pct.py',
        VIDEO_VIT, dict(in_channels=32), wrapper='ClassBalancedSubset',
        train_samples=CLASSES * TRAIN_PER_CLASS // 2),
    'k-shot': Kind(
        'data_scales/adaptformer_hmdb51-split1/adaptformer-64_vit-base-p16_'
        'videomae-k400-pre_8xb128-8x4x1-90e_hmdb51-split1-4shot.py',
        VIDEO_VIT, dict(in_channels=32), wrapper='ClassBalancedSubset',
        train_samples=CLASSES * 4),
    'image': Kind(
        'image/adaptformer/adaptformer-64_vit-base-p16_mae-in1k_'
        '8xb128-sgd-coslr-100e_cifar100.py',
        dict(arch=dict(_delete_=True, embed_dims=32, num_layers=1,
                       num_heads=2, feedforward_channels=64)),
        dict(in_channels=32, num_classes=CLASSES), media='images',
        model=dict(neck=dict(input_features=32)),
        train_samples=CLASSES * (TRAIN_PER_CLASS + VAL_PER_CLASS)),
    'swin': Kind(
        'adaptformer/adaptformer-dim12_swin-base-p244-w877_in1k-k400-pre_'
        '8xb128-8x4x1-90e_ssv2.py',
        dict(arch=dict(_delete_=True, embed_dims=12, depths=[1, 1],
                       num_heads=[1, 2]), window_size=(2, 7, 7),
             drop_path_rate=0.0, out_indices=(1, )), dict(in_channels=24)),
    'fsdp': Kind(
        'fsdp/adaptformer-64_vit-giant-p14_videomaev2-hybrid-pre_'
        'fsdp-8xb128-8x4x1-90e_ssv2.py',
        dict(VIDEO_VIT, with_cp=False), dict(in_channels=32), sharded=True),
    'demo': Kind(
        'demo/adaptformer-8_vit-tiny-p16_prim24-pre_adamw-24e_'
        'synthetic-dynamics.py', VIDEO_VIT, dict(in_channels=32),
        media='synthetic', train_samples=8),
    # The 20-line config a user writes for a folder of their own videos.
    'inherited': Kind(
        'examples/adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-'
        '8x4x1-90e_my-videos.py', VIDEO_VIT, dict(in_channels=32)),
}
# ------------------------------------------------------------------ media
def write_clip(path: str, seed: int) -> None:
    frames = np.random.default_rng(seed).integers(
        0, 255, (FRAMES, SIDE, SIDE, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 25,
                             (SIDE, SIDE))
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """A folder of clips in class folders with train / val lists, the same
    as images, and a root for the demo's synthetic generator."""
    root = tmp_path_factory.mktemp('contract_media')
    lists = dict(train=[], val=[])
    for c in range(CLASSES):
        os.makedirs(root / 'videos' / f'class{c}')
        os.makedirs(root / 'images' / f'class{c}')
        for i in range(TRAIN_PER_CLASS + VAL_PER_CLASS):
            name = f'class{c}/{i}.mp4'
            write_clip(str(root / 'videos' / name), seed=10 * c + i)
            split = 'train' if i < TRAIN_PER_CLASS else 'val'
            lists[split].append(f'{name} {c}\n')
            image = np.random.default_rng(10 * c + i).integers(
                0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
            cv2.imwrite(str(root / 'images' / f'class{c}' / f'{i}.png'),
                        image)
    for split, lines in lists.items():
        (root / f'{split}.txt').write_text(''.join(lines))
    return root


# ------------------------------------------------------- tiny child configs
def nest(dataset_cfg: dict, leaf: dict) -> dict:
    """``leaf`` placed at the innermost dataset of ``dataset_cfg``'s
    wrappers (``dataset=dict(dataset=...)``)."""
    _, chain = unwrap_dataset_cfg(dataset_cfg)
    for _ in chain:
        leaf = dict(dataset=leaf)
    return leaf


def data_overrides(kind: Kind, parent: Config, media) -> dict:
    loaders = {}
    for split in ('train', 'val', 'test'):
        loader = parent.get(f'{split}_dataloader')
        if not loader:
            continue
        if kind.media == 'videos':
            ann = media / ('train.txt' if split == 'train' else 'val.txt')
            leaf = dict(ann_file=str(ann),
                        data_prefix=dict(video=str(media / 'videos')))
        elif kind.media == 'images':
            # CIFAR's pipeline starts from decoded arrays; files need a
            # loading step first.
            inner, _ = unwrap_dataset_cfg(loader.dataset)
            leaf = dict(_delete_=True, type='CustomDataset',
                        data_root=str(media / 'images'),
                        pipeline=[dict(type='LoadImageFromFile')] +
                        list(inner.pipeline))
        else:
            leaf = dict(data_root=str(media / 'synthetic'), num_train=8,
                        num_val=4)
        loaders[f'{split}_dataloader'] = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            prefetch_factor=None,
            dataset=nest(loader.dataset, leaf))
    return loaders


def write_pretrained(child: str, path: str) -> None:
    """A checkpoint of the tiny backbone in the layout the recipes load
    (``backbone.*``), so their Pretrained init runs for real."""
    cfg = Config.fromfile(child)
    cfg.model.backbone.pop('init_cfg', None)
    model = build_model(cfg)
    state = {k: v for k, v in model.state_dict().items()
             if k.startswith('backbone.')}
    torch.save(dict(state_dict=state), path)


def tiny_config(name: str, media, folder) -> str:
    """The kind's representative as a tiny child config (one epoch, no
    validation during training, a pretrained tiny backbone); its path."""
    kind = KINDS[name]
    os.makedirs(folder, exist_ok=True)
    parent = osp.join(REPO, 'configs', kind.config)
    base = Config.fromfile(parent)
    head_key = 'cls_head' if 'cls_head' in base.model else 'head'
    pretrained = osp.join(folder, 'pretrained.pth')
    overrides = dict(
        model={'backbone': dict(kind.backbone, init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
            head_key: kind.head, **kind.model},
        train_cfg=dict(max_epochs=1, val_begin=2),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1, save_best=None),
            logger=dict(type='LoggerHook', interval=1)),
        **data_overrides(kind, base, media))
    child = osp.join(folder, f'tiny_{name}.py')
    with open(child, 'w') as f:
        f.write(f'_base_ = [{parent!r}]\n')
        for key, value in overrides.items():
            f.write(f'{key} = {value!r}\n')
    write_pretrained(child, pretrained)
    return child


@pytest.fixture(scope='module')
def configs(media, tmp_path_factory):
    root = tmp_path_factory.mktemp('contract_configs')
    return {name: tiny_config(name, media, root / name) for name in KINDS}


@pytest.fixture(scope='module')
def trained(configs, tmp_path_factory):
    """``tools/train.py`` on every kind once (a sharded kind through
    ``tools/dist_train.sh`` with one CPU process); each one's checkpoint."""
    train = load_tool('train')
    root = tmp_path_factory.mktemp('contract_runs')
    checkpoints = {}
    for name, config in configs.items():
        work_dir = str(root / name)
        if KINDS[name].sharded:
            with pytest.raises(ValueError, match='tools/dist_train.sh'):
                train.main([config, '--work-dir', work_dir + '_refused'])
            proc = subprocess.run(
                ['bash', 'tools/dist_train.sh', config, '1', '--work-dir',
                 work_dir], cwd=REPO, capture_output=True, text=True,
                env=dict(os.environ, PYTHON=sys.executable,
                         PORT=str(free_port()), OMP_NUM_THREADS='1'),
                timeout=600)
            assert proc.returncode == 0, proc.stderr[-6000:]
        else:
            train.main([config, '--work-dir', work_dir])
        checkpoints[name] = osp.join(work_dir, 'epoch_1.pth')
    return checkpoints


# ------------------------------------------------------------------ tools
def run_train(ctx):
    assert osp.isfile(ctx.checkpoint)


def run_test(ctx):
    work_dir = str(ctx.tmp / 'test')
    load_tool('test').main([ctx.config, ctx.checkpoint, '--work-dir',
                            work_dir])
    assert 'top1' in ctx.output()


def run_check_dataset(ctx):
    assert load_tool('check_dataset').main(
        [ctx.config, '--split', 'train', '--workers', '0']) == 0
    out = ctx.output()
    if ctx.kind.media == 'videos':  # the whole list inside any wrapper
        lines = CLASSES * TRAIN_PER_CLASS
        assert f'{lines} lines, {lines} good, 0 bad' in out
        wrapper = ctx.kind.wrapper
        assert (f'inside {wrapper}' in out) == bool(wrapper), out
    else:
        assert ', 0 bad' in out


def run_extract_features(ctx):
    out = str(ctx.tmp / 'features.pth')
    load_tool('extract_features').main(
        [ctx.config, ctx.checkpoint, '--split', 'train', '--out', out,
         '--device', 'cpu', '--no-progress'])
    features = FeatureSet.load(out)
    # One feature per training sample: a subset stays (it defines the
    # data), a repeating wrapper does not.
    assert len(features.labels) == ctx.kind.train_samples


def run_benchmark(ctx):
    out = str(ctx.tmp / 'benchmark.json')
    load_tool('benchmark').main(
        [ctx.config, '--batch', '2', '--steps', '1', '--warmup', '0',
         '--device', 'cpu', '--threads', '1', '--json', out])
    assert json.load(open(out))


def run_benchmark_data(ctx):
    out = str(ctx.tmp / 'data.json')
    load_tool('benchmark_data').main(
        [ctx.config, '--samples', '2', '--num-workers', '0', '--json', out])
    assert json.load(open(out))


def run_count_params(ctx):
    load_tool('count_params').main([ctx.config])
    assert 'trainable params: ' in ctx.output()


def run_demo(ctx):
    # An image config classifies an image, a video config a video.
    image = str(ctx.media / 'images' / 'class0' / '0.png')
    video = str(ctx.media / 'videos' / 'class0' / '0.mp4')
    source = image if ctx.kind.media == 'images' else video
    load_tool('demo').main([source, ctx.config, ctx.checkpoint,
                            '--device', 'cpu'])
    assert f'{source}: top-' in ctx.output()


def run_export_peft(ctx):
    out = str(ctx.tmp / 'task.pth')
    load_tool('export_peft').main([ctx.checkpoint, out, '--config',
                                   ctx.config])
    assert osp.isfile(out)


def run_plan(ctx):
    out = str(ctx.tmp / 'plan.json')
    load_tool('plan').main([ctx.config, '--batch', '2', '--device', 'cpu',
                            '--json', out])
    assert 'batch 2 fits' in ctx.output()
    assert json.load(open(out))


TOOLS: Dict[str, Callable] = {
    'train': run_train,
    'test': run_test,
    'check_dataset': run_check_dataset,
    'extract_features': run_extract_features,
    'benchmark': run_benchmark,
    'benchmark_data': run_benchmark_data,
    'count_params': run_count_params,
    'demo': run_demo,
    'export_peft': run_export_peft,
    'plan': run_plan,
}
# (tool, kind): the reason the tool refuses the kind, as its message says.
REFUSED: Dict[tuple, str] = {
    # An image folder or mmpretrain's CIFAR / SVHN / Food-101 files have no
    # "path label" list to check line by line.
    ('check_dataset', 'image'): r'reads no annotation list \(ann_file\)',
}


@dataclass
class Context:
    kind: Kind
    config: str
    checkpoint: str
    media: object
    tmp: object
    capsys: object

    def output(self) -> str:
        captured = self.capsys.readouterr()
        return captured.out + captured.err


@pytest.mark.parametrize('kind', list(KINDS))
@pytest.mark.parametrize('tool', list(TOOLS))
def test_tool_runs_on_kind(tool, kind, configs, trained, media, tmp_path,
                           capsys, one_torch_thread):
    ctx = Context(KINDS[kind], configs[kind], trained[kind], media, tmp_path, capsys)
    reason = REFUSED.get((tool, kind))
    if reason is None:
        TOOLS[tool](ctx)
    else:
        with pytest.raises((SystemExit, ValueError), match=reason):
            TOOLS[tool](ctx)
