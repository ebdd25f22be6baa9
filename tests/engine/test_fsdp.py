"""Sharded training through mmengine's FlexibleRunner + FSDPStrategy on the
CPU: two gloo processes train a tiny AdaptFormer exactly as one plain
process does (tools/dist_train.sh, configs with ``strategy``)."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

import adaptformer_mm  # noqa: F401
from adaptformer_mm.engine.checkpoint_io import safe_torch_load
from adaptformer_mm.engine.strategy import (build_flexible_runner,
                                            prepare_strategy)
from adaptformer_mm.models import AdaptFormerVideoViT
from adaptformer_mm.peft.task_file import read_task_file

from ..conftest import REPO, load_tool
from .equivalence import deterministic_demo_config, free_port

GLOBAL_BATCH = 4
ITERS = 3  # 12 training clips / 4
TINY = dict(img_size=64, patch_size=16, embed_dims=64, depth=2, num_heads=4,
            num_frames=8)

# Written next to the configs: what every rank saw (its losses, its wrapper,
# the frozen checksum before and after training).
PROBE = '''
import json, os.path as osp
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from adaptformer_mm.peft.tunable_state import frozen_checksum


@HOOKS.register_module()
class FSDPProbeHook(Hook):
    def _model(self, runner):
        m = runner.model
        return m.module if is_model_wrapper(m) else m

    def before_train(self, runner):
        self.record = dict(wrapper=type(runner.model).__name__, losses=[],
                           frozen_before=frozen_checksum(self._model(runner)))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.record['losses'].append(float(outputs['loss']))

    def after_train(self, runner):
        self.record['frozen_after'] = frozen_checksum(self._model(runner))
        with open(osp.join(runner.work_dir,
                           f'probe_rank{get_rank()}.json'), 'w') as f:
            json.dump(self.record, f)
'''


def _write_configs(tmp_path, data_root, pretrained):
    """One plain config (AdaptFormer, tunable-only checkpoints, no random
    augmentation, no workers) and the same with ``strategy``."""
    (tmp_path / 'fsdp_probe.py').write_text(PROBE)
    plain = tmp_path / 'plain.py'
    plain.write_text(deterministic_demo_config(
        data_root, GLOBAL_BATCH * ITERS, f"""
custom_imports = dict(imports=['adaptformer_mm', 'fsdp_probe'])
custom_hooks = [dict(type='TunableSummaryHook'),
                dict(type='TunableCheckpointHook'),
                dict(type='FSDPProbeHook')]
model = dict(
    backbone=dict(type='AdaptFormerVideoViT', embed_dims=64, depth=2,
                  num_heads=4, adapter_cfg=dict(bottleneck=8),
                  init_cfg=dict(type='Pretrained', checkpoint={pretrained!r},
                                prefix='backbone.')),
    cls_head=dict(in_channels=64))
default_hooks = dict(checkpoint=dict(save_best=None),
                     logger=dict(interval=1))
"""))
    fsdp = tmp_path / 'fsdp.py'
    # use_orig_params=True and state_dict_cfg='full' are prepare_strategy's
    # defaults.
    fsdp.write_text("_base_ = ['./plain.py']\n"
                    "strategy = dict(type='FSDPStrategy')\n")
    return str(plain), str(fsdp)


def _pretrained(path):
    """A random stock backbone in the converted layout, for Pretrained."""
    from mmaction.models.backbones.vit_mae import VisionTransformer
    torch.manual_seed(3)
    stock = VisionTransformer(**TINY)
    with torch.no_grad():
        for p in stock.parameters():
            p.normal_(0, 0.1)
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in stock.state_dict().items()}},
               path)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """(plain work dir, FSDP work dir): the same config trained by one plain
    process (in this one, through tools/train.py's main) and by two FSDP
    ranks (tools/dist_train.sh)."""
    tmp = tmp_path_factory.mktemp('fsdp')
    _pretrained(str(tmp / 'pre.pth'))
    plain, fsdp = _write_configs(tmp, str(tmp / 'data'), str(tmp / 'pre.pth'))
    one = str(tmp / 'one')
    # The plain run writes the synthetic clips first; the ranks reuse them.
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp))  # the probe hook's module
        mp.setenv('LOCAL_RANK', '0')
        load_tool('train').main([
            plain, '--work-dir', one, '--cfg-options',
            f'train_dataloader.batch_size={GLOBAL_BATCH}'])
    two = str(tmp / 'two')
    env = {'PYTHONPATH': str(tmp) + os.pathsep +
           os.environ.get('PYTHONPATH', '')}
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', fsdp, '2', '--work-dir', two,
         '--cfg-options', f'train_dataloader.batch_size={GLOBAL_BATCH // 2}'],
        cwd=REPO, env=dict(os.environ, PYTHON=sys.executable,
                           PORT=str(free_port()), OMP_NUM_THREADS='1',
                           **env),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return one, two


def _probe(work_dir, rank):
    return json.load(open(osp.join(work_dir, f'probe_rank{rank}.json')))


def test_two_fsdp_processes_match_one_plain_process(runs):
    one, two = runs
    ref = _probe(one, 0)
    ranks = [_probe(two, 0), _probe(two, 1)]
    assert ref['wrapper'] == 'Recognizer3D'
    assert [r['wrapper'] for r in ranks] == ['MMFullyShardedDataParallel'] * 2
    losses = np.array([r['losses'] for r in ranks])
    assert losses.shape == (2, ITERS)
    assert not np.allclose(losses[0], losses[1])  # each rank: half a batch
    np.testing.assert_allclose(losses.mean(0), ref['losses'], rtol=1e-4,
                               atol=1e-5)
    # The frozen backbone is the pretrained one, unchanged by training, and
    # every rank saw it whole (ShardedRunner gathers it for the hooks).
    for r in ranks:
        assert r['frozen_before'] == r['frozen_after'] == ref['frozen_before']
    assert ref['frozen_after'] == ref['frozen_before']


def test_fsdp_checkpoints_stay_tunable_only(runs):
    one, two = runs
    c1 = safe_torch_load(osp.join(one, 'epoch_1.pth'))
    c2 = safe_torch_load(osp.join(two, 'epoch_1.pth'))
    model = AdaptFormerVideoViT(**TINY, adapter_cfg=dict(bottleneck=8))
    trainable = {f'backbone.{n}' for n, p in model.named_parameters()
                 if p.requires_grad}
    keys = set(c2['state_dict'])
    assert keys == set(c1['state_dict'])
    # adapters + fc_norm + head, under the unwrapped names, nothing frozen
    assert trainable <= keys
    assert all(k in trainable or k.startswith('cls_head.') for k in keys)
    for k in keys:
        torch.testing.assert_close(c2['state_dict'][k], c1['state_dict'][k],
                                   rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f'{k}: {m}')
    info1 = c1['meta']['tunable_only']
    assert c2['meta']['tunable_only']['backbone_checksum'] == \
        info1['backbone_checksum']
    # the task file written after training: the same tensors
    t1 = read_task_file(osp.join(one, 'task.pth'))
    t2 = read_task_file(osp.join(two, 'task.pth'))
    assert set(t2.state_dict) == set(t1.state_dict) == keys
    for k in keys:
        torch.testing.assert_close(t2.state_dict[k], t1.state_dict[k],
                                   rtol=1e-4, atol=1e-5)


# ------------------------------------------------ which FSDP modes train PEFT
@pytest.fixture
def one_process_group(monkeypatch):
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    dist.init_process_group('gloo', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_mixed_requires_grad_needs_use_orig_params(one_process_group):
    from mmaction.models.backbones.vit_mae import Block
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    def wrap(use_orig_params, policy=None):
        torch.manual_seed(0)
        model = AdaptFormerVideoViT(**TINY, adapter_cfg=dict(bottleneck=8))
        return FSDP(model, device_id='cpu', use_orig_params=use_orig_params,
                    auto_wrap_policy=policy)

    # Whole model or one unit per block (a block holds its frozen MLP and
    # its trainable adapter): one FlatParameter cannot have both
    # requires_grad values.
    for policy, message in (
            (None, 'uniform `requires_grad`'),
            (ModuleWrapPolicy({Block}), 'has both parameters with '
             'requires_grad=True and False')):
        with pytest.raises(ValueError, match=message):
            wrap(False, policy)
    model = wrap(True)
    out = model(torch.randn(2, 3, 8, 64, 64))
    out.sum().backward()
    grads = {n: p.grad is not None for n, p in model.named_parameters()}
    assert grads and all(g == ('adaptmlp' in n or 'fc_norm' in n)
                         for n, g in grads.items())


# -------------------------------------------------------- strategy settings
def _cfg(**strategy):
    return Config(dict(
        launcher='pytorch', strategy=dict(type='FSDPStrategy', **strategy),
        custom_hooks=[dict(type='TunableCheckpointHook')]))


def test_prepare_strategy_fits_the_cpu_and_keeps_names():
    cfg = _cfg()
    prepare_strategy(cfg)
    wrapper = cfg.strategy.model_wrapper
    assert wrapper.use_orig_params is True
    assert cfg.strategy.state_dict_cfg == 'full'
    if not torch.cuda.is_available():
        assert wrapper.device_id == 'cpu'
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'


@pytest.mark.parametrize('strategy, backbone, message', [
    (dict(model_wrapper=dict(use_orig_params=False)), 'AdaptFormerVideoViT',
     'use_orig_params=False with frozen parameters'),
    # the tunable backbones run their blocks through forward_block: a
    # wrapped block would never be gathered
    (dict(model_wrapper=dict(auto_wrap_policy='size_based_auto_wrap_policy')),
     'TunableVideoViT', "backbone.type='TunableVideoViT': this backbone runs"),
    (dict(model_wrapper=dict(auto_wrap_policy='size_based_auto_wrap_policy')),
     'VisionTransformer', 'with TunableCheckpointHook'),
])
def test_settings_fsdp_cannot_train_stop_at_build(strategy, backbone,
                                                  message):
    cfg = _cfg(**strategy)
    cfg.model = dict(backbone=dict(type=backbone))
    with pytest.raises(ValueError, match=message):
        prepare_strategy(cfg)


def test_full_fine_tuning_may_flatten_without_orig_params():
    cfg = _cfg(model_wrapper=dict(use_orig_params=False))
    cfg.model = dict(backbone=dict(type='TunableVideoViT', tuning='full'))
    prepare_strategy(cfg)
    assert cfg.strategy.model_wrapper.use_orig_params is False


def test_fsdp_without_a_process_group_says_how_to_launch():
    cfg = _cfg()
    cfg.launcher = 'none'
    with pytest.raises(ValueError, match='tools/dist_train.sh'):
        build_flexible_runner(cfg)


def test_deepspeed_is_refused_plainly_where_it_is_not_installed():
    try:
        import deepspeed  # noqa: F401
        pytest.skip('deepspeed is installed here')
    except ImportError:
        pass
    cfg = Config(dict(strategy=dict(type='DeepSpeedStrategy')))
    with pytest.raises(ImportError, match="'FSDPStrategy' instead"):
        prepare_strategy(cfg)
