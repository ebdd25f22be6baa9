"""Strict loading, switched on: a tensor of another shape, or a checkpoint
none of whose tensors fit, is refused with the file and the keys named;
switched off (mmengine's behaviour), it is a warning."""
import re

import pytest
import torch
from mmengine.runner import checkpoint as ckpt_module
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint
from torch import nn

import adaptformer_mm  # noqa: F401  (registrations)
from adaptformer_mm.engine.strict_loading import (CheckpointMismatchError,
                                                  load_state_dict,
                                                  strict_loading)


def _narrow_and_wide():
    """A model with a Linear(4, 3) and the state of one with Linear(4, 5)."""
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    other = nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5)).state_dict()
    return model, other


def test_off_mmengine_warns_and_loads_the_rest(capsys):
    model, other = _narrow_and_wide()
    other['0.bias'] = torch.zeros(3)  # the one tensor that fits
    ckpt_module.load_state_dict(model, other)  # import switched nothing on
    assert torch.equal(model[0].bias, torch.zeros(3))
    assert 'size mismatch for 0.weight' in capsys.readouterr().out


def test_size_mismatch_names_keys_with_both_shapes():
    model, other = _narrow_and_wide()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with strict_loading():
        with pytest.raises(CheckpointMismatchError) as info:
            ckpt_module.load_state_dict(model, other)
    message = str(info.value)
    assert message.startswith('the state dict does not fit the model:\n'
                              '4 tensor(s) have another shape')
    assert '  0.weight: [5, 4] vs [3, 4]\n' in message
    assert '  1.bias: [5] vs [3]\n' in message
    # mismatching tensors were not copied
    assert torch.equal(model.state_dict()['0.weight'], before['0.weight'])


def test_missing_keys_stay_a_warning_but_nothing_fitting_is_an_error(
        tmp_path, capsys):
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    source = nn.Sequential(nn.Linear(4, 3)).state_dict()
    load_state_dict(model, source)  # a partial checkpoint: reported
    assert torch.equal(model[0].weight, source['0.weight'])
    assert 'missing keys in source state_dict: 1.weight, 1.bias' in \
        capsys.readouterr().out

    path = str(tmp_path / 'prefixed.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in model.state_dict().items()}}, path)
    with strict_loading():
        with pytest.raises(CheckpointMismatchError,
                           match=f'checkpoint {path}: none of its 4 tensors '
                           'has a place in the model Sequential'):
            load_checkpoint(model, path)


def test_a_file_is_named_only_for_its_own_tensors(tmp_path):
    """A checkpoint read without a load (``_load_checkpoint`` alone, as
    ``tools/export_peft.py`` does) is not blamed for a later in-memory load;
    the file's own tensors are named after it whatever came between."""
    model = nn.Sequential(nn.Linear(4, 3))
    path = str(tmp_path / 'wide.pth')
    torch.save({'state_dict': nn.Sequential(nn.Linear(4, 5)).state_dict()},
               path)
    with strict_loading():
        read = _load_checkpoint(path)  # read, never loaded
        other = nn.Sequential(nn.Linear(4, 5)).state_dict()
        with pytest.raises(CheckpointMismatchError,
                           match='^the state dict does not fit'):
            load_state_dict(model, other)
        with pytest.raises(CheckpointMismatchError,
                           match=f'^checkpoint {re.escape(path)} does not '
                           'fit'):
            load_state_dict(model, read['state_dict'])


def test_the_switch_is_reentrant_and_gives_mmengine_back():
    stock_load = ckpt_module.load_state_dict
    stock_read = ckpt_module.CheckpointLoader.__dict__['load_checkpoint']
    assert stock_load.__module__ == 'mmengine.runner.checkpoint'
    with pytest.raises(KeyError):  # leaving on an error restores too
        with strict_loading():
            assert ckpt_module.load_state_dict is load_state_dict
            reading = ckpt_module.CheckpointLoader.__dict__['load_checkpoint']
            assert reading is not stock_read
            with strict_loading():  # an inner use changes nothing
                assert ckpt_module.CheckpointLoader.__dict__[
                    'load_checkpoint'] is reading
            assert ckpt_module.load_state_dict is load_state_dict
            raise KeyError('stop')
    assert ckpt_module.load_state_dict is stock_load
    assert ckpt_module.CheckpointLoader.__dict__['load_checkpoint'] is \
        stock_read
