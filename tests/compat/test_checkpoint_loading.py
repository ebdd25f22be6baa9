"""mmengine checkpoints load under torch >= 2.6 without trusting pickles, and
mmengine names a checkpoint argument that is no path."""
import os
import pickle
import re

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import adaptformer_mm  # noqa: F401  (registers the loader)
from adaptformer_mm.engine.checkpoint_io import UntrustedCheckpointError
from ..engine.mmengine_checkpoints import (Reduces, assert_read_back,
                                           write_mmengine_like_checkpoint)


def test_stock_torch_load_rejects_mmengine_checkpoint(tmp_path):
    path = str(tmp_path / 'epoch_3.pth')
    write_mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(path)


def test_mmengine_loader_reads_checkpoint(tmp_path):
    path = str(tmp_path / 'epoch_3.pth')
    write_mmengine_like_checkpoint(path)
    assert_read_back(_load_checkpoint(path, map_location='cpu'))


def test_code_executing_pickle_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'x': Reduces(os.system, f'touch {marker}')},
               path)
    with pytest.raises(UntrustedCheckpointError,
                       match=f'refusing to load {path}'):
        _load_checkpoint(path, map_location='cpu')
    assert not marker.exists()


def test_a_missing_file_is_named(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match=missing):
        _load_checkpoint(missing)


@pytest.mark.parametrize('value', [[0, 1, 1], None, 3])
def test_an_argument_that_is_no_path_names_itself(value):
    lookup = CheckpointLoader.__dict__['_get_checkpoint_loader'].__func__
    # Stock mmengine fails inside ``re``, naming only the type.
    with pytest.raises(TypeError, match='expected string or bytes-like'):
        lookup.__wrapped__(CheckpointLoader, value)
    with pytest.raises(TypeError,
                       match=r'^a checkpoint must be a file path or URL '
                       r'\(str\), got ' + re.escape(repr(value))):
        _load_checkpoint(value)


def test_a_pathlib_path_loads(tmp_path):
    path = tmp_path / 'epoch_3.pth'
    write_mmengine_like_checkpoint(path)
    assert _load_checkpoint(path)['meta']['iter'] == 12
