"""Bad checkpoints: another architecture, not a checkpoint, truncated. Each
is refused with the file named (and, for a mismatch, the first keys with
both shapes) through ``load_from`` in tools/train.py and through a
``Pretrained`` init; nothing trains on re-initialised weights.

Refusing another architecture is the ``strict_loading`` choice: on in the
shipped runtime (tools/train.py applies it), and here by hand for a model
built outside a tool. A file that cannot be read is refused either way."""
import glob
import os.path as osp

import pytest
import torch
from mmaction.models.backbones.vit_mae import VisionTransformer
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner import checkpoint as ckpt_module

from adaptformer_mm.engine.strict_loading import (CheckpointMismatchError,
                                                  strict_loading)

from .conftest import TINY_VIT, train_tool, write_config


def _backbone(checkpoint, type='AdaptFormerVideoViT', **overrides):
    init_default_scope('mmaction')
    cfg = dict(TINY_VIT, type=type,
               init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    if type == 'AdaptFormerVideoViT':
        cfg['adapter_cfg'] = dict(bottleneck=8)
    cfg.update(overrides)
    return MODELS.build(cfg)


@pytest.fixture
def strict():
    """The ``strict_loading`` choice for this test only."""
    with strict_loading():
        yield


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


def test_pretrained_init_refuses_other_architecture(strict, bad_files):
    backbone = _backbone(bad_files['wide'])
    with pytest.raises(CheckpointMismatchError) as info:
        backbone.init_weights()
    message = str(info.value)
    assert message.startswith(f'checkpoint {bad_files["wide"]} does not fit '
                              'the model:')
    assert 'patch_embed.projection.weight: [48, 3, 2, 16, 16] vs ' \
        '[32, 3, 2, 16, 16]' in message


def test_pretrained_init_still_fits_other_frame_counts(strict, tmp_path):
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
def test_pretrained_init_refuses_unreadable_file(bad_files, which):
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
def test_train_tool_load_from_refuses(tmp_path, bad_files, reliability_data,
                                      pretrained, which, error, messages):
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
    # the choice lasted as long as the run
    assert ckpt_module.load_state_dict.__module__ == \
        'mmengine.runner.checkpoint'


def test_train_tool_without_strict_loading_loads_as_mmengine_does(
        tmp_path, bad_files, reliability_data, pretrained, capsys):
    config = write_config(tmp_path, reliability_data, pretrained[0],
                          deterministic=False,
                          extra='train_cfg = dict(max_epochs=1)\n')
    work_dir = str(tmp_path / 'work')
    train_tool().main([config, '--work-dir', work_dir, '--cfg-options',
                       f'load_from={bad_files["wide_recognizer"]}',
                       'strict_loading=False'])
    out = capsys.readouterr().out
    # mmengine warned, left the mismatching tensors as they were and trained
    assert 'size mismatch for backbone.patch_embed.projection.weight' in out
    assert glob.glob(osp.join(work_dir, 'epoch_1.pth'))
    # the other choice of the runtime stayed on: one line for frozen tensors
    assert 'frozen parameter tensors (' in out
    assert 'is skipped since its requires_grad=False' not in out
