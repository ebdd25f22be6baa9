"""mmengine checkpoints load under torch >= 2.6 without trusting pickles."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

import adaptformer_mm  # noqa: F401  (registers the loader)
from adaptformer_mm.compat import TRUST_ENV, safe_torch_load


def _mmengine_like_checkpoint(path):
    buf = HistoryBuffer()
    for v in (0.5, 0.25):
        buf.update(v)
    ckpt = dict(
        meta=dict(epoch=3, iter=12, seed=np.int64(0),
                  dataset_meta=dict(classes=('a', 'b'))),
        state_dict=dict(w=torch.arange(4.)),
        message_hub=dict(log_scalars={'train/loss': buf},
                         runtime_info=dict(epoch=3, arr=np.zeros(2))),
    )
    torch.save(ckpt, path)
    return ckpt


class _Reduces:
    """Pickles as ``func(*args)``: what a malicious checkpoint does."""

    def __init__(self, func, *args):
        self.call = (func, args)

    def __reduce__(self):
        return self.call


class _Plain:
    value = 7


def test_stock_torch_load_rejects_mmengine_checkpoint(tmp_path):
    path = str(tmp_path / 'epoch_3.pth')
    _mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(path)


def test_mmengine_loader_reads_checkpoint(tmp_path):
    path = str(tmp_path / 'epoch_3.pth')
    _mmengine_like_checkpoint(path)
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(4.))
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(0.375)
    assert ckpt['meta']['epoch'] == 3


def test_code_executing_pickle_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'x': _Reduces(os.system, f'touch {marker}')},
               path)
    with pytest.raises(RuntimeError, match=f'refusing to load {path}'):
        _load_checkpoint(path, map_location='cpu')
    assert not marker.exists()


@pytest.mark.parametrize('obj,name', [(HistoryBuffer, '__init__'),
                                      (np.ndarray, 'tofile')])
def test_getattr_is_limited_to_history_buffer(tmp_path, obj, name):
    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': _Reduces(getattr, obj, name)}, path)
    with pytest.raises(RuntimeError, match='only public HistoryBuffer'):
        safe_torch_load(path)


def test_trust_env_opts_into_full_unpickling(tmp_path, monkeypatch):
    path = str(tmp_path / 'obj.pth')
    torch.save({'x': _Plain()}, path)  # a class outside the allow-list
    with pytest.raises(RuntimeError, match=TRUST_ENV):
        safe_torch_load(path)
    monkeypatch.setenv(TRUST_ENV, '1')
    assert safe_torch_load(path)['x'].value == 7


def test_truncated_and_missing_files_name_the_file(tmp_path):
    path = tmp_path / 'cut.pth'
    _mmengine_like_checkpoint(str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RuntimeError, match=f'cannot read checkpoint {path}'):
        safe_torch_load(str(path))
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match=missing):
        _load_checkpoint(missing)


@pytest.mark.parametrize('content', [b'just some text\n', bytes(range(256)) * 4])
def test_files_that_are_not_checkpoints_name_the_file(tmp_path, content):
    path = tmp_path / 'notes.pth'
    path.write_bytes(content)
    with pytest.raises(RuntimeError, match=f'cannot read checkpoint {path}'):
        safe_torch_load(str(path))
