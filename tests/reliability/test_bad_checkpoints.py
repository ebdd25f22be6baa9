"""Bad checkpoints: another architecture, not a checkpoint, truncated. Each
is refused with the file named (and, for a mismatch, the first keys with
both shapes) through ``load_from`` in tools/train.py and through a
``Pretrained`` init; nothing trains on re-initialised weights."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmaction.models.backbones.vit_mae import VisionTransformer
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint
from torch import nn

from adaptformer_mm.compat.strict_loading import (CheckpointMismatchError,
                                                  load_state_dict,
                                                  patch_strict_loading)

from .conftest import TINY_VIT, train_tool, write_config


def _backbone(checkpoint, type='AdaptFormerVideoViT', **overrides):
    init_default_scope('mmaction')
    cfg = dict(TINY_VIT, type=type,
               init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    if type == 'AdaptFormerVideoViT':
        cfg['adapter_cfg'] = dict(bottleneck=8)
    cfg.update(overrides)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def bad_files(tmp_path_factory, pretrained):
    """Checkpoints that must be refused: a ViT of width 48 (backbone keys and
    as a recognizer, ``backbone.*``), a text file, a truncated checkpoint."""
    folder = tmp_path_factory.mktemp('bad_checkpoints')
    torch.manual_seed(1)
    wide = VisionTransformer(**dict(TINY_VIT, embed_dims=48)).state_dict()
    files = dict(
        wide=str(folder / 'vit_wide.pth'),
        wide_recognizer=str(folder / 'recognizer_wide.pth'),
        text=str(folder / 'notes.pth'),
        truncated=str(folder / 'truncated.pth'))
    torch.save({'state_dict': wide}, files['wide'])
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in wide.items()}},
               files['wide_recognizer'])
    with open(files['text'], 'w') as f:
        f.write('epoch 12: top1 0.43\n')
    with open(pretrained[0], 'rb') as f:
        data = f.read()
    with open(files['truncated'], 'wb') as f:
        f.write(data[:len(data) // 2])
    return files


def test_size_mismatch_names_keys_with_both_shapes(strict_loading):
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    other = nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5)).state_dict()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        load_state_dict(model, other)
    message = str(info.value)
    assert message.startswith('the state dict does not fit the model:\n'
                              '4 tensor(s) have another shape')
    assert '  0.weight: [5, 4] vs [3, 4]\n' in message
    assert '  1.bias: [5] vs [3]\n' in message
    # mismatching tensors were not copied
    assert torch.equal(model.state_dict()['0.weight'], before['0.weight'])


def test_missing_keys_stay_a_warning_but_nothing_fitting_is_an_error(
        strict_loading, tmp_path, capsys):
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    source = nn.Sequential(nn.Linear(4, 3)).state_dict()
    load_state_dict(model, source)  # a partial checkpoint: reported
    assert torch.equal(model[0].weight, source['0.weight'])
    assert 'missing keys in source state_dict: 1.weight, 1.bias' in \
        capsys.readouterr().out

    path = str(tmp_path / 'prefixed.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in model.state_dict().items()}}, path)
    with pytest.raises(CheckpointMismatchError,
                       match=f'checkpoint {path}: none of its 4 tensors has a '
                       'place in the model Sequential'):
        load_checkpoint(model, path)


def test_a_file_is_named_only_for_its_own_tensors(strict_loading, tmp_path):
    """A checkpoint read without a load (``_load_checkpoint`` alone, as
    ``tools/export_peft.py`` does) is not blamed for a later in-memory load;
    the file's own tensors are named after it whatever came between."""
    from mmengine.runner.checkpoint import _load_checkpoint
    model = nn.Sequential(nn.Linear(4, 3))
    path = str(tmp_path / 'wide.pth')
    torch.save({'state_dict': nn.Sequential(nn.Linear(4, 5)).state_dict()},
               path)
    read = _load_checkpoint(path)  # read, never loaded
    other = nn.Sequential(nn.Linear(4, 5)).state_dict()
    with pytest.raises(CheckpointMismatchError,
                       match='^the state dict does not fit'):
        load_state_dict(model, other)
    with pytest.raises(CheckpointMismatchError,
                       match=f'^checkpoint {re.escape(path)} does not fit'):
        load_state_dict(model, read['state_dict'])


def test_patch_is_idempotent(strict_loading):
    from mmengine.runner import checkpoint as ckpt_module
    loader = ckpt_module.CheckpointLoader.__dict__['load_checkpoint']
    patch_strict_loading()
    assert ckpt_module.load_state_dict is load_state_dict
    assert ckpt_module.CheckpointLoader.__dict__['load_checkpoint'] is loader


def test_pretrained_init_refuses_other_architecture(strict_loading,
                                                    bad_files):
    backbone = _backbone(bad_files['wide'])
    with pytest.raises(CheckpointMismatchError) as info:
        backbone.init_weights()
    message = str(info.value)
    assert message.startswith(f'checkpoint {bad_files["wide"]} does not fit '
                              'the model:')
    assert 'patch_embed.projection.weight: [48, 3, 2, 16, 16] vs ' \
        '[32, 3, 2, 16, 16]' in message


def test_pretrained_init_still_fits_other_frame_counts(strict_loading,
                                                       tmp_path):
    # The video backbones adapt pos_embed to their frame count on purpose;
    # that is not a mismatch.
    torch.manual_seed(0)
    stock = VisionTransformer(**dict(TINY_VIT, num_frames=16)).state_dict()
    path = str(tmp_path / 'vit_16_frames.pth')
    torch.save({'state_dict': stock}, path)
    backbone = _backbone(path, type='TunableVideoViT')
    backbone.init_weights()
    assert stock['pos_embed'].shape[1] == 2 * backbone.pos_embed.shape[1]
    assert torch.equal(backbone.patch_embed.projection.weight,
                       stock['patch_embed.projection.weight'])


@pytest.mark.parametrize('which', ['text', 'truncated'])
def test_pretrained_init_refuses_unreadable_file(strict_loading, bad_files,
                                                 which):
    backbone = _backbone(bad_files[which])
    with pytest.raises(RuntimeError,
                       match=f'cannot read checkpoint {bad_files[which]}: '
                       'it is truncated or not a torch checkpoint'):
        backbone.init_weights()


@pytest.mark.parametrize('which, error, messages', [
    ('wide_recognizer', CheckpointMismatchError, [
        'checkpoint {path} does not fit the model:\n',
        'tensor(s) have another shape (checkpoint vs model):\n'
        '  backbone.patch_embed.projection.weight: [48, 3, 2, 16, 16] vs '
        '[32, 3, 2, 16, 16]\n']),
    ('text', RuntimeError, ['cannot read checkpoint {path}: it is truncated '
                            'or not a torch checkpoint']),
    ('truncated', RuntimeError, ['cannot read checkpoint {path}']),
])
def test_train_tool_load_from_refuses(strict_loading, tmp_path, bad_files,
                                      reliability_data, pretrained, which,
                                      error, messages):
    config = write_config(tmp_path, reliability_data, pretrained[0],
                          deterministic=False)
    work_dir = str(tmp_path / 'work')
    path = bad_files[which]
    with pytest.raises(error) as info:
        train_tool().main([config, '--work-dir', work_dir, '--cfg-options',
                           f'load_from={path}'])
    for message in messages:
        assert message.format(path=path) in str(info.value)
    # it stopped before the first iteration: no checkpoint, no loss
    assert not glob.glob(osp.join(work_dir, '*.pth'))
    assert not glob.glob(osp.join(work_dir, 'losses_rank*.json'))
