"""TunableCheckpointHook: checkpoints with only the trainable tensors, that
resume exactly and refuse another backbone."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from torch.utils.data import DataLoader, Dataset

import adaptformer_mm  # noqa: F401  (registers the hook, fixes resume)
from adaptformer_mm.peft import tunable_state_dict
from adaptformer_mm.peft.task_file import (BackboneMismatchError,
                                           frozen_checksum, read_task_file)
from mmaction.structures import ActionDataSample
from ..apis.tiny_tasks import VIT, tiny_cfg, write_backbone


# What a data-scale subset (ClassBalancedSubset) leaves in the metainfo.
SUBSET = dict(shots=2, seed=0, fold=0, per_class=[2, 2, 2])


class RandomClips(Dataset):
    metainfo = dict(classes=('a', 'b', 'c'), data_subset=SUBSET)

    def __len__(self):
        return 8

    def __getitem__(self, index):
        gen = torch.Generator().manual_seed(index)
        clip = torch.randn(1, 3, VIT['num_frames'], 64, 64, generator=gen)
        return dict(inputs=clip * 50 + 114,
                    data_samples=ActionDataSample().set_gt_label(index % 3))


def runner_for(work_dir, pretrained, max_epochs, resume=False,
               hook=dict(type='TunableCheckpointHook')):
    cfg = tiny_cfg(3, pretrained=pretrained)
    return Runner(
        model=cfg.model.to_dict(),
        work_dir=work_dir,
        train_dataloader=DataLoader(RandomClips(), batch_size=4,
                                    shuffle=False, collate_fn=pseudo_collate),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.5, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[hook],
        default_scope='mmaction',
        resume=resume,
        randomness=dict(seed=0),
        cfg=Config(dict(cfg.to_dict(), work_dir=work_dir)))


def trainable(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()
            if p.requires_grad}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tunable_ckpt')
    pretrained = write_backbone(str(tmp / 'pretrained.pth'))
    straight = runner_for(str(tmp / 'straight'), pretrained, max_epochs=2)
    straight.train()
    first = runner_for(str(tmp / 'resumed'), pretrained, max_epochs=1)
    first.train()
    return tmp, pretrained, straight, first


def test_checkpoints_hold_only_trainable_state(runs):
    tmp, pretrained, straight, _ = runs
    ckpt = torch.load(str(tmp / 'straight' / 'epoch_2.pth'),
                      weights_only=False)
    model = straight.model
    assert list(ckpt['state_dict']) == list(tunable_state_dict(model))
    keys = set(ckpt['state_dict'])
    assert 'backbone.blocks.1.adaptmlp.up.weight' in keys
    assert 'backbone.fc_norm.weight' in keys
    assert {'cls_head.bn.running_mean', 'cls_head.bn.running_var',
            'cls_head.fc_cls.weight'} <= keys
    assert not any(k.startswith('backbone.patch_embed') or '.attn.' in k
                   for k in keys)
    assert ckpt['optimizer']['state']  # still resumable: momentum is there
    info = ckpt['meta']['tunable_only']
    assert info['backbone_checksum'] == frozen_checksum(model)
    assert info['pretrained'] == pretrained
    # and the task file written after training
    task = read_task_file(str(tmp / 'straight' / 'task.pth'))
    assert task.classes == ['a', 'b', 'c']
    assert task.meta['epoch'] == 2
    assert task.meta['data_subset'] == SUBSET  # the training set's subset
    assert task.meta['method_cfg']['adapter_cfg']['bottleneck'] == \
        model.backbone.adapter_cfg.bottleneck
    for key, value in tunable_state_dict(model).items():
        assert torch.equal(task.state_dict[key], value), key
    assert "type='AdaptFormerVideoViT'" in task.config


def test_resume_equals_uninterrupted_run_and_frozen_equal_backbone(runs):
    tmp, pretrained, straight, _ = runs
    resumed = runner_for(str(tmp / 'resumed'), pretrained, max_epochs=2,
                         resume=True)
    resumed.train()
    assert resumed.epoch == 2 and resumed.iter == 4
    expected, got = trainable(straight.model), trainable(resumed.model)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5,
                                   atol=1e-6, msg=name)
    state = resumed.model.state_dict()
    bn = straight.model.cls_head.bn
    torch.testing.assert_close(state['cls_head.bn.running_mean'],
                               bn.running_mean, rtol=1e-5, atol=1e-6)
    backbone = torch.load(pretrained, weights_only=True)['state_dict']
    frozen = [n for n, p in resumed.model.named_parameters()
              if not p.requires_grad]
    assert frozen
    for name in frozen:
        assert torch.equal(state[name], backbone[name[len('backbone.'):]])


def test_resume_onto_another_backbone_is_refused(runs):
    tmp, _, _, first = runs
    other = write_backbone(str(tmp / 'other.pth'), seed=1)
    runner = runner_for(str(tmp / 'resumed'), other, max_epochs=2)
    runner._resume = True
    runner._load_from = str(tmp / 'resumed' / 'epoch_1.pth')
    with pytest.raises(BackboneMismatchError) as err:
        runner.train()
    msg = str(err.value)
    assert frozen_checksum(first.model) in msg
    assert msg.count('sha256:') == 2 and 'other.pth' in msg


def test_full_checkpoints_are_kept_with_save_full(tmp_path):
    pretrained = write_backbone(str(tmp_path / 'pretrained.pth'))
    runner = runner_for(
        str(tmp_path / 'wd'), pretrained, max_epochs=1,
        hook=dict(type='TunableCheckpointHook', save_full=True,
                  task_file='tiny.pth'))
    runner.train()
    ckpt = torch.load(str(tmp_path / 'wd' / 'epoch_1.pth'),
                      weights_only=False)
    assert list(ckpt['state_dict']) == list(runner.model.state_dict())
    assert 'tunable_only' not in ckpt['meta']
    assert osp.isfile(str(tmp_path / 'wd' / 'tiny.pth'))


def test_task_file_name_is_checked():
    from adaptformer_mm.engine import TunableCheckpointHook
    with pytest.raises(ValueError, match='task_file must be a file name'):
        TunableCheckpointHook(task_file='')
