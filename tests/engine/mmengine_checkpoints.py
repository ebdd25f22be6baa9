"""Checkpoint files for the reading tests: one as mmengine writes it, and
pickles that run code or hold plain Python objects."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer


def write_mmengine_like_checkpoint(path) -> dict:
    """What mmengine's Runner saves: tensors plus a ``HistoryBuffer`` and
    numpy values in ``message_hub`` and ``meta``."""
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
    torch.save(ckpt, str(path))
    return ckpt


def assert_read_back(ckpt) -> None:
    """``ckpt`` is what :func:`write_mmengine_like_checkpoint` wrote."""
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(4.))
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(0.375)
    assert ckpt['meta']['seed'] == np.int64(0)


class Reduces:
    """Pickles as ``func(*args)``: what a malicious checkpoint does."""

    def __init__(self, func, *args):
        self.call = (func, args)

    def __reduce__(self):
        return self.call


class Plain:
    value = 7
