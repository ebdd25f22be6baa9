"""Multi-process CPU (gloo) training through tools/dist_train.sh."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

import adaptformer_mm  # noqa: F401
from adaptformer_mm.engine.checkpoint_io import safe_torch_load
from adaptformer_mm.engine import DeviceAwareDistributedDataParallel

from ..conftest import REPO, run_python
from .equivalence import deterministic_demo_config, free_port

HERE = osp.dirname(osp.abspath(__file__))
GLOBAL_BATCH = 8
ITERS = 4  # 32 training clips / 8


def _write_config(tmp_path, data_root):
    cfg = tmp_path / 'equiv.py'
    cfg.write_text(deterministic_demo_config(
        data_root, GLOBAL_BATCH * ITERS, """
custom_imports = dict(imports=['adaptformer_mm', 'loss_recorder'])
custom_hooks = [dict(type='LossRecorderHook')]
model = dict(backbone=dict(embed_dims=32, depth=2, num_heads=2),
             cls_head=dict(in_channels=32))
"""))
    return str(cfg)


def test_two_processes_match_one_process(tmp_path):
    cfg = _write_config(tmp_path, str(tmp_path / 'data'))
    env = {'PYTHONPATH': HERE + os.pathsep + os.environ.get('PYTHONPATH', '')}
    one = str(tmp_path / 'one')
    run_python(['tools/train.py', cfg, '--work-dir', one, '--cfg-options',
                f'train_dataloader.batch_size={GLOBAL_BATCH}'], env=env)
    two = str(tmp_path / 'two')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', two,
         '--cfg-options', f'train_dataloader.batch_size={GLOBAL_BATCH // 2}'],
        cwd=REPO, env=dict(os.environ, PYTHON=sys.executable,
                           PORT=str(free_port()), **env),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'Distributed training is not used' not in proc.stdout + proc.stderr

    def losses(wd, rank):
        return json.load(open(osp.join(wd, f'losses_rank{rank}.json')))

    ref = np.array(losses(one, 0))
    ranks = np.array([losses(two, 0), losses(two, 1)])
    assert ref.shape == (ITERS, ) and ranks.shape == (2, ITERS)
    # each rank saw a different half of every global batch
    assert not np.allclose(ranks[0], ranks[1])
    np.testing.assert_allclose(ranks.mean(0), ref, rtol=1e-4, atol=1e-5)
    # DDP averaged the gradients: the weights end up the same
    w1 = safe_torch_load(osp.join(one, 'epoch_1.pth'))['state_dict']
    w2 = safe_torch_load(osp.join(two, 'epoch_1.pth'))['state_dict']
    assert w1.keys() == w2.keys()
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f'{k}: {m}')


def test_cpu_ddp_wrapper_drops_device_ids(tmp_path, monkeypatch):
    import torch.distributed as dist
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    dist.init_process_group('gloo', rank=0, world_size=1)
    try:
        model = torch.nn.Linear(2, 2)
        ddp = DeviceAwareDistributedDataParallel(model, device_ids=[0])
        assert ddp.device_ids is None
        out = ddp(torch.ones(1, 2))
        assert out.shape == (1, 2)
    finally:
        dist.destroy_process_group()


def test_cpu_launch_errors_name_the_problem(monkeypatch):
    from mmengine.config import Config

    from adaptformer_mm.engine import setup_cpu_distributed
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    cfg = Config(dict(model=dict()))
    with pytest.raises(RuntimeError, match="'RANK'.*tools/dist_train.sh"):
        setup_cpu_distributed(cfg, 'pytorch')
    with pytest.raises(ValueError, match='--launcher slurm needs CUDA'):
        setup_cpu_distributed(cfg, 'slurm')
    assert setup_cpu_distributed(cfg, 'none') is False
