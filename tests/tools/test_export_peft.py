"""tools/export_peft.py writes the task file of a training checkpoint, and
tools/test.py evaluates it on top of the pretrained backbone."""
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config

from adaptformer_mm.peft import tunable_state_dict
from adaptformer_mm.peft.task_file import (BackboneMismatchError,
                                           frozen_checksum, read_task_file)
from ..apis.tiny_tasks import (load_tool, save_full_checkpoint,
                               trained_model, write_backbone)
from ..conftest import DEMO_CONFIG, run_tool, tiny_demo_overrides

CLASSES = ['right', 'left', 'down', 'up']


@pytest.fixture(scope='module')
def exported(tmp_path_factory, synthetic_root):
    tmp = tmp_path_factory.mktemp('export')
    test_tool, export_tool = load_tool('test'), load_tool('export_peft')
    options = tiny_demo_overrides(synthetic_root) + [
        'model.backbone.type=AdaptFormerVideoViT']
    parsed = test_tool.parse_args([DEMO_CONFIG, 'x'] + options).cfg_options
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(parsed)
    vit = {k: v for k, v in cfg.model.backbone.items() if k != 'type'}
    backbone = write_backbone(str(tmp / 'pretrained.pth'), **vit)
    model = trained_model(cfg, backbone, seed=1)
    full = save_full_checkpoint(model, cfg, str(tmp / 'epoch_3.pth'),
                                classes=CLASSES)
    out = str(tmp / 'task.pth')
    export_tool.main([full, out])
    return dict(tmp=tmp, model=model, cfg=cfg, backbone=backbone, full=full,
                out=out, options=options, export_tool=export_tool)


def test_export_writes_tunable_tensors_and_metadata(exported, capsys):
    model, out = exported['model'], exported['out']
    raw = torch.load(out, weights_only=True)  # plain data only
    task = read_task_file(out)
    expected = tunable_state_dict(model)
    assert list(task.state_dict) == list(expected)
    for key, value in expected.items():
        assert torch.equal(task.state_dict[key], value), key
    assert task.method == 'AdaptFormerVideoViT'
    assert task.classes == CLASSES
    assert task.config == exported['cfg'].pretty_text
    assert task.backbone_checksum == frozen_checksum(model)
    assert raw['meta']['epoch'] == 3 and raw['meta']['source'] == \
        'epoch_3.pth'
    assert osp.getsize(out) < osp.getsize(exported['full'])


def test_export_never_overwrites_silently(exported, tmp_path, capsys):
    tool, out = exported['export_tool'], exported['out']
    before = open(out, 'rb').read()
    with pytest.raises(SystemExit):
        tool.main([exported['full'], out])
    assert f'OUT {out} exists; choose another name or pass --force' in \
        capsys.readouterr().err
    assert open(out, 'rb').read() == before
    labels = tmp_path / 'labels.txt'
    labels.write_text('a\nb\n\nc\nd\n')
    again = str(tmp_path / 'again.pth')
    # from a tunable-only input (the task file itself) with the backbone
    tool.main([out, again, '--backbone', exported['backbone'],
               '--label-file', str(labels)])
    tool.main([out, again, '--backbone', exported['backbone'], '--force',
               '--label-file', str(labels)])
    task = read_task_file(again)
    assert task.classes == ['a', 'b', 'c', 'd']
    assert task.backbone_checksum == read_task_file(out).backbone_checksum
    with pytest.raises(ValueError, match='is the input checkpoint'):
        tool.main([out, out, '--force'])


def test_test_tool_evaluates_task_file_on_backbone(exported):
    tmp = exported['tmp']

    def run(checkpoint, name, *extra):
        dump = str(tmp / f'{name}.pkl')
        run_tool('test', [DEMO_CONFIG, checkpoint, '--work-dir',
                          str(tmp / name), '--dump', dump, *extra] +
                 exported['options'])
        with open(dump, 'rb') as f:
            return [r['pred_score'] for r in pickle.load(f)]

    full = run(exported['full'], 'full')
    task = run(exported['out'], 'task', '--backbone', exported['backbone'])
    assert len(full) == len(task) == 8
    for a, b in zip(full, task):
        assert torch.equal(a, b)
    other = write_backbone(str(tmp / 'other.pth'), seed=5,
                           **{k: v for k, v in
                              exported['cfg'].model.backbone.items()
                              if k != 'type'})
    with pytest.raises(BackboneMismatchError, match='other.pth'):
        run(exported['out'], 'other', '--backbone', other)
