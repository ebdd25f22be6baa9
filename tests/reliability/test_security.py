"""A checkpoint whose pickle would run code is refused by every loader the
project owns, before the code runs: ``load_from`` in tools/train.py, a
``Pretrained`` init, task files and the converter's reader."""
import glob
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

from adaptformer_mm.models.convert import load_checkpoint_file
from adaptformer_mm.peft.task_file import read_task_file

from .conftest import TINY_VIT, train_tool, write_config


class _WritesMarker:
    """Unpickling this calls ``exec``: it writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        code = f'open({self.marker!r}, "w").write("code ran")'
        return exec, (code, )


@pytest.fixture
def malicious(tmp_path, pretrained):
    """(a checkpoint with real weights plus the code object, its marker)."""
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'malicious.pth')
    state = {f'backbone.{k}': v for k, v in pretrained[1].items()}
    torch.save({'state_dict': state, 'meta': {'note': _WritesMarker(marker)}},
               path)
    yield path, marker
    # The file is what it claims: unpickled without weights_only, it runs.
    assert not osp.exists(marker)
    torch.load(path, weights_only=False)
    assert osp.exists(marker)


def test_train_tool_load_from_refuses(tmp_path, malicious, reliability_data,
                                      pretrained):
    path, marker = malicious
    config = write_config(tmp_path, reliability_data, pretrained[0],
                          deterministic=False)
    work_dir = str(tmp_path / 'work')
    with pytest.raises(RuntimeError, match=f'refusing to load {path}: .*'
                       'could execute code.*Unsupported global: GLOBAL exec'):
        train_tool().main([config, '--work-dir', work_dir, '--cfg-options',
                           f'load_from={path}'])
    assert not osp.exists(marker)
    assert not glob.glob(osp.join(work_dir, '*.pth'))


def test_pretrained_init_refuses(malicious):
    path, marker = malicious
    init_default_scope('mmaction')
    backbone = MODELS.build(dict(
        TINY_VIT, type='AdaptFormerVideoViT', adapter_cfg=dict(bottleneck=8),
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.')))
    with pytest.raises(RuntimeError, match=f'refusing to load {path}'):
        backbone.init_weights()
    assert not osp.exists(marker)


def test_task_file_and_converter_readers_refuse(malicious):
    path, marker = malicious
    with pytest.raises(RuntimeError,
                       match=f'refusing to load task file {path}'):
        read_task_file(path)
    with pytest.raises(RuntimeError, match=f'refusing to load {path}'):
        load_checkpoint_file(path)
    assert not osp.exists(marker)
