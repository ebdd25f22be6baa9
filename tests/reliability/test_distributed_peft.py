"""2 CPU processes (gloo, tools/dist_train.sh) train AdaptFormer and VPT like
1 process with the same global batch, and frozen weights stay the
pretrained ones on every rank."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from ..conftest import REPO
from .conftest import write_config

GLOBAL_BATCH = 4
ITERS = 4  # 16 training clips / 4


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.mark.parametrize('backbone', ['AdaptFormerVideoViT', 'VPTVideoViT'])
def test_two_processes_match_one_process(backbone, tmp_path,
                                         reliability_data, pretrained):
    pretrained_path, stock = pretrained
    # TimeSformerHead (the demo's): no BatchNorm, whose batch statistics
    # would differ between a batch of 4 and two of 2.
    config = write_config(tmp_path, reliability_data, pretrained_path,
                          backbone=backbone,
                          extra='train_cfg = dict(max_epochs=1)\n')
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    single = subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir', one,
         '--cfg-options', f'train_dataloader.batch_size={GLOBAL_BATCH}'],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    dist = subprocess.Popen(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', two,
         '--cfg-options', f'train_dataloader.batch_size={GLOBAL_BATCH // 2}'],
        cwd=REPO, env=dict(os.environ, PYTHON=sys.executable,
                           PORT=str(_free_port())),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    single_out, _ = single.communicate(timeout=600)
    dist_out, _ = dist.communicate(timeout=600)
    assert single.returncode == 0, single_out[-5000:]
    assert dist.returncode == 0, dist_out[-5000:]
    assert 'Distributed training is not used' not in dist_out

    def losses(work_dir, rank):
        with open(osp.join(work_dir, f'losses_rank{rank}.json')) as f:
            return json.load(f)

    ref = np.array(losses(one, 0))
    ranks = np.array([losses(two, 0), losses(two, 1)])
    assert ref.shape == (ITERS, ) and ranks.shape == (2, ITERS)
    assert not np.allclose(ranks[0], ranks[1])  # each rank had its half
    np.testing.assert_allclose(ranks.mean(0), ref, rtol=1e-4, atol=1e-5)

    w1 = _load(osp.join(one, 'state_rank0.pth'))
    r0 = _load(osp.join(two, 'state_rank0.pth'))
    r1 = _load(osp.join(two, 'state_rank1.pth'))
    assert w1.keys() == r0.keys() == r1.keys()
    for key in w1:
        # DDP keeps the ranks bit-identical, and they match 1 process
        assert torch.equal(r0[key], r1[key]), key
        torch.testing.assert_close(r0[key], w1[key], rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f'{key}: {m}')
    frozen = [k for k in stock if not k.startswith('fc_norm')]
    for key in frozen:
        for state in (w1, r0, r1):
            assert torch.equal(state[f'backbone.{key}'], stock[key]), key
    method = [k for k in w1 if k.startswith('backbone.')
              and k[len('backbone.'):] not in stock]
    assert method  # adapters / prompts are there, equal on every rank
