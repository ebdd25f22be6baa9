"""Reading a checkpoint: weights only, mmengine's own types allowed, and an
error that says what is wrong (not a path, missing, truncated, untrusted)."""
import pathlib

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from adaptformer_mm.engine.checkpoint_io import (TRUST_ENV,
                                                 CheckpointReadError,
                                                 UntrustedCheckpointError,
                                                 safe_torch_load)
from .mmengine_checkpoints import (Plain, Reduces, assert_read_back,
                                   write_mmengine_like_checkpoint)


def test_reads_what_mmengine_writes_from_a_str_or_a_path(tmp_path):
    path = tmp_path / 'epoch_3.pth'
    write_mmengine_like_checkpoint(path)
    for name in (str(path), path):
        assert_read_back(safe_torch_load(name, map_location='cpu'))


@pytest.mark.parametrize('value', [[0, 1, 1], None, 3])
def test_an_argument_that_is_no_path_is_a_type_error(value):
    with pytest.raises(TypeError) as info:
        safe_torch_load(value)
    assert str(info.value).startswith(
        f'a checkpoint must be a file path or URL (str), got {value!r} of '
        f'type {type(value).__name__}')


def test_a_missing_file_is_named_as_missing(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError,
                       match=f'^checkpoint file not found: {missing}$'):
        safe_torch_load(missing)


def test_a_truncated_file_is_named_as_truncated(tmp_path):
    path = tmp_path / 'cut.pth'
    write_mmengine_like_checkpoint(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointReadError,
                       match=f'^cannot read checkpoint {path}: it is '
                       'truncated or not a torch checkpoint'):
        safe_torch_load(str(path))


@pytest.mark.parametrize('content',
                         [b'just some text\n', bytes(range(256)) * 4])
def test_files_that_are_not_checkpoints_name_the_file(tmp_path, content):
    path = tmp_path / 'notes.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointReadError,
                       match=f'^cannot read checkpoint {path}'):
        safe_torch_load(str(path))


@pytest.mark.parametrize('obj,name', [(HistoryBuffer, '__init__'),
                                      (np.ndarray, 'tofile')])
def test_getattr_is_limited_to_history_buffer(tmp_path, obj, name):
    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': Reduces(getattr, obj, name)}, path)
    with pytest.raises(RuntimeError, match='only public HistoryBuffer'):
        safe_torch_load(path)


def test_trust_env_opts_into_full_unpickling(tmp_path, monkeypatch):
    path = pathlib.Path(tmp_path / 'obj.pth')
    torch.save({'x': Plain()}, str(path))  # a class outside the allow-list
    with pytest.raises(UntrustedCheckpointError, match=TRUST_ENV):
        safe_torch_load(path)
    monkeypatch.setenv(TRUST_ENV, '1')
    assert safe_torch_load(path)['x'].value == 7
