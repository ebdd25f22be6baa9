import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(
    REPO, 'configs', 'demo',
    'videomae_vit-tiny-p16_scratch_adamw-30e_synthetic-direction.py')


def load_tool(name):
    """``tools/NAME.py`` as a module (the tools are scripts, not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_python(args, cwd=REPO, env=None, timeout=600, check=True):
    """Run ``python ARGS`` in a fresh interpreter; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable] + list(args), cwd=cwd,
                          env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'python {" ".join(args)} failed '
                             f'({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """Parent folder of the small synthetic datasets shared by the tests
    (``SyntheticVideoDataset`` writes them on first use)."""
    return str(tmp_path_factory.mktemp('synthetic'))


def tiny_demo_overrides(data_root, epochs=1):
    """--cfg-options that shrink the demo config to seconds."""
    opts = [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            'model.backbone.depth=2', 'model.backbone.embed_dims=32',
            'model.backbone.num_heads=2', 'model.cls_head.in_channels=32']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}',
                 f'{loader}.dataset.num_train=16',
                 f'{loader}.dataset.num_val=8',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False',
                 f'{loader}.batch_size=4']
    return ['--cfg-options'] + opts


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: tiny tensors on two threads spin
    against the rest of a 2-core machine (10x slower); restored after."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
