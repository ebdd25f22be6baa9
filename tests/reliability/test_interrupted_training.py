"""Interrupted runs: SIGKILL after a checkpoint then ``--resume`` ends where
an uninterrupted run ends; Ctrl-C (SIGINT) leaves a resumable checkpoint."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import torch

from adaptformer_mm.engine.checkpoint_io import safe_torch_load

from ..conftest import REPO, run_python
from .conftest import train_tool, write_config


def _train(config, work_dir, *args):
    return subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
         *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def _records(work_dir):
    with open(osp.join(work_dir, 'record_rank0.jsonl')) as f:
        return [json.loads(line) for line in f]


def test_sigkill_then_resume_matches_uninterrupted_run(
        tmp_path, reliability_data, pretrained):
    pretrained_path, stock = pretrained
    config = write_config(tmp_path, reliability_data, pretrained_path)
    killer = write_config(
        tmp_path, reliability_data, pretrained_path,
        extra="custom_hooks = [dict(type='TunableSummaryHook'), "
        "dict(type='RecorderHook'), "
        "dict(type='KillAfterCheckpointHook', epoch=1)]\n")
    ref, run = str(tmp_path / 'uninterrupted'), str(tmp_path / 'killed')
    # The two runs are independent: let them share the two cores.
    procs = [_train(config, ref), _train(killer, run)]
    (ref_out, _), (run_out, _) = [p.communicate(timeout=600) for p in procs]
    assert procs[0].returncode == 0, ref_out[-5000:]
    assert procs[1].returncode == -signal.SIGKILL, run_out[-5000:]
    assert osp.isfile(osp.join(run, 'epoch_1.pth'))
    assert not osp.exists(osp.join(run, 'epoch_2.pth'))

    proc = run_python(['tools/train.py', config, '--work-dir', run,
                       '--resume'])
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1, iter: 4' in log
    assert 'Epoch(train) [1]' not in log  # epoch 1 was not trained again

    want = safe_torch_load(osp.join(ref, 'epoch_2.pth'))
    got = safe_torch_load(osp.join(run, 'epoch_2.pth'))
    assert got['meta']['iter'] == want['meta']['iter'] == 8
    assert got['state_dict'].keys() == want['state_dict'].keys()
    for key, value in want['state_dict'].items():
        assert torch.equal(got['state_dict'][key], value), key
    # not vacuous: the second epoch (run after the resume) moved weights
    first = safe_torch_load(osp.join(run, 'epoch_1.pth'))['state_dict']
    assert not all(torch.equal(first[k], v)
                   for k, v in got['state_dict'].items())
    # the frozen backbone never moved from the pretrained weights
    for key, value in stock.items():
        if not key.startswith('fc_norm'):
            assert torch.equal(got['state_dict'][f'backbone.{key}'], value)

    # The same parameters train before the kill, after the resume and in
    # the uninterrupted run: adapters, fc_norm and the head, nothing frozen.
    (uninterrupted, ), (killed, resumed) = _records(ref), _records(run)
    assert (resumed['epoch'], resumed['iter']) == (1, 4)
    assert killed['trainable'] == resumed['trainable'] \
        == uninterrupted['trainable']
    stock_trained = {n for n in resumed['trainable']
                     if n.startswith('backbone.')
                     and n[len('backbone.'):] in stock}
    assert stock_trained == {'backbone.fc_norm.weight',
                             'backbone.fc_norm.bias'}
    assert any('adapt' in n for n in resumed['trainable'])
    assert {'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias'} <= set(
        resumed['trainable'])


def test_ctrl_c_saves_resumable_checkpoint(tmp_path, reliability_data,
                                           pretrained):
    pretrained_path, _ = pretrained
    interrupted = write_config(
        tmp_path, reliability_data, pretrained_path,
        extra="custom_hooks = [dict(type='TunableSummaryHook'), "
        "dict(type='SignalAfterIterHook', iteration=2)]\n")
    work_dir = str(tmp_path / 'work')
    proc = run_python(['tools/train.py', interrupted, '--work-dir', work_dir],
                      check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 130, out[-5000:]
    saved = osp.join(work_dir, 'interrupted_iter_2.pth')
    assert f'interrupted: saved {saved}' in proc.stdout
    assert 'Epoch(train) [1][2/4]' in out  # it had logged iterations
    assert 'Epoch(train) [1][3/4]' not in out  # and stopped after the 2nd
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == saved
    ckpt = safe_torch_load(saved)
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (0, 2)
    assert {'state_dict', 'optimizer', 'param_schedulers',
            'message_hub'} <= set(ckpt)

    # --resume continues from it (in this process: nothing here can die).
    config = write_config(tmp_path, reliability_data, pretrained_path,
                          deterministic=False)
    train_tool().main([config, '--work-dir', work_dir, '--resume',
                       '--cfg-options', 'train_cfg.max_epochs=1'])
    logs = [osp.join(root, f) for root, _, files in os.walk(work_dir)
            for f in files if f.endswith('.log')]
    assert any('resumed epoch: 0, iter: 2' in open(f).read() for f in logs)
    resumed = safe_torch_load(osp.join(work_dir, 'epoch_1.pth'))
    assert resumed['meta']['iter'] == 6  # 2 before, the epoch's 4 again
