"""RepeatedAugDataset: K views per video from one decode, independently
augmented; the sampler still walks the videos once per epoch."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

import adaptformer_mm  # noqa: F401  (registers the backbones)
from adaptformer_mm.datasets.repeated_aug import (RepeatedAugDataset,
                                                  repeated_aug_collate)
from adaptformer_mm.datasets.synthetic import write_video
from mmaction.datasets.transforms import DecordDecode
from mmaction.registry import MODELS

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomResizedCrop', area_range=(0.2, 1.0)),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


@pytest.fixture(scope='module')
def video_list(tmp_path_factory):
    root = tmp_path_factory.mktemp('ra')
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        frames = rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
        write_video(str(root / f'v{i}.mp4'), frames)
        lines.append(f'v{i}.mp4 {i % 3}')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


def build(root, k):
    init_default_scope('mmaction')
    return RepeatedAugDataset(
        dict(type='VideoDataset', ann_file=osp.join(root, 'list.txt'),
             data_prefix=dict(video=root), pipeline=PIPELINE),
        num_repeats=k)


def test_views_differ_and_share_one_decode(video_list, monkeypatch):
    calls = []
    original = DecordDecode.transform
    monkeypatch.setattr(DecordDecode, 'transform',
                        lambda self, r: calls.append(1) or original(self, r))
    ds = build(video_list, k=3)
    assert ds.num_decode_steps == 3
    views = ds[0]
    assert len(calls) == 1 and len(views) == 3
    clips = [v['inputs'] for v in views]
    assert all(c.shape == (1, 3, 4, 32, 32) for c in clips)
    assert not torch.equal(clips[0], clips[1])
    assert not torch.equal(clips[1], clips[2])
    assert {int(v['data_samples'].gt_label) for v in views} == {0}


def test_epoch_is_one_pass_and_a_train_step_runs(video_list):
    k, videos_per_batch = 2, 2
    ds = build(video_list, k=k)
    sampler = DefaultSampler(ds, shuffle=True, seed=0)
    loader = DataLoader(ds, batch_size=videos_per_batch, sampler=sampler,
                        collate_fn=repeated_aug_collate)
    assert len(loader) == len(ds) // videos_per_batch == 3
    assert sorted(sampler) == list(range(len(ds)))
    batch = next(iter(loader))
    assert len(batch['inputs']) == videos_per_batch * k
    labels = [int(s.gt_label) for s in batch['data_samples']]
    assert labels[0] == labels[1] and labels[2] == labels[3]

    model = MODELS.build(dict(
        type='Recognizer3D',
        backbone=dict(type='AdaptFormerVideoViT', img_size=32, patch_size=16,
                      embed_dims=64, depth=2, num_heads=4, num_frames=4,
                      tubelet_size=2),
        cls_head=dict(type='BNLinearHead', num_classes=3, in_channels=64),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               format_shape='NCTHW')))
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    wrapper = OptimWrapper(torch.optim.SGD(params, lr=0.1))
    losses = model.train_step(batch, wrapper)
    assert torch.isfinite(losses['loss_cls'])
    assert any(not torch.equal(a, p) for a, p in zip(before, params))


def test_bad_arguments(video_list):
    with pytest.raises(ValueError, match='num_repeats'):
        build(video_list, k=0)
