"""The paper recipes' bf16 path through mmengine's Runner, on the CPU.

The AdaptFormer recipes train under ``AmpOptimWrapper(dtype='bfloat16',
loss_scale=dict(enabled=False))``. mmengine's wrapper asserts a GPU at
construction, so ``CPUAmpOptimWrapper`` below (test-only) lifts that one
assertion; everything else, the cast dtype, the GradScaler built from the
recipe's ``loss_scale``, and ``optim_context``'s autocast, is mmengine's own,
which autocasts on the CPU when no GPU is present. The run goes through the
recipe's recognizer, BatchNorm head and mmaction2's head loss with bf16
scores (the path ``compat.head_loss_dtype`` repairs).
"""
import os.path as osp
import uuid
from unittest import mock

import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.hooks import Hook
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner import Runner
from torch.utils.data import Dataset

import adaptformer_mm  # noqa: F401  (registers the models, applies fixes)

RECIPE = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', 'adaptformer',
    'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py')
SIZE, FRAMES, CLIPS, BATCH = 32, 8, 4, 2


@OPTIM_WRAPPERS.register_module(force=True)
class CPUAmpOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` without its GPU assertion."""

    def __init__(self, **kwargs):
        with mock.patch.object(amp_optimizer_wrapper, 'is_cuda_available',
                               return_value=True):
            super().__init__(**kwargs)


@DATASETS.register_module(force=True)
class RandomClips(Dataset):
    """Packed clips as mmaction2's ``PackActionInputs`` gives them
    (test-only)."""

    def __len__(self):
        return CLIPS

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        clip = torch.randint(0, 256, (1, 3, FRAMES, SIZE, SIZE),
                             generator=generator, dtype=torch.uint8)
        return dict(inputs=clip,
                    data_samples=ActionDataSample().set_gt_label(index % 3))


def tiny_recipe(optim_type, work_dir):
    """The SSv2 AdaptFormer recipe with a tiny backbone, random clips and
    its own optimizer, schedule and bf16 settings."""
    cfg = Config.fromfile(RECIPE)
    cfg.model.backbone.update(img_size=SIZE, embed_dims=64, depth=2,
                              num_heads=4)
    cfg.model.backbone.pop('init_cfg')
    cfg.model.cls_head.update(in_channels=64, num_classes=3)
    if optim_type == 'OptimWrapper':  # the fp32 reference
        cfg.optim_wrapper = dict(type=optim_type,
                                 optimizer=cfg.optim_wrapper.optimizer)
    else:
        cfg.optim_wrapper.type = optim_type
    cfg.train_dataloader = dict(
        batch_size=BATCH, num_workers=0, dataset=dict(type='RandomClips'),
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'))
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = []
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    cfg.experiment_name = f'amp_{uuid.uuid4().hex[:8]}'
    cfg.randomness = dict(seed=0)
    return cfg


class Snapshot(Hook):
    """After the Runner's weight init: give the adapters random values (as
    if trained: AdaptMLP's up starts at zero) and keep every weight."""

    def before_train(self, runner):
        torch.manual_seed(0)
        with torch.no_grad():
            for name, param in runner.model.backbone.named_parameters():
                if 'adaptmlp' in name:
                    param.normal_(0.0, 0.1)
        self.before = {n: p.detach().clone()
                       for n, p in runner.model.named_parameters()}


def train(cfg):
    """Train the config; return the runner, the dtypes the head's Linear
    returned, the losses and the weights the training started from."""
    runner = Runner.from_cfg(cfg)
    snapshot = Snapshot()
    runner.register_hook(snapshot)
    dtypes = []
    runner.model.cls_head.fc_cls.register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    losses = []
    original = runner.model.cls_head.loss_by_feat

    def record(cls_scores, data_samples, **kwargs):
        out = original(cls_scores, data_samples, **kwargs)
        losses.append(out['loss_cls'].detach())
        return out

    runner.model.cls_head.loss_by_feat = record
    runner.train()
    return runner, dtypes, losses, snapshot.before


@pytest.fixture(scope='module')
def bf16_and_fp32(tmp_path_factory):
    work = tmp_path_factory.mktemp('amp')
    recipe = Config.fromfile(RECIPE)
    assert recipe.optim_wrapper.type == 'AmpOptimWrapper'
    assert recipe.optim_wrapper.dtype == 'bfloat16'
    return (train(tiny_recipe('CPUAmpOptimWrapper', work / 'bf16')),
            train(tiny_recipe('OptimWrapper', work / 'fp32')))


def test_the_recipe_trains_under_bf16_autocast(bf16_and_fp32):
    (runner, dtypes, losses, before), _ = bf16_and_fp32
    wrapper = runner.optim_wrapper
    assert type(wrapper) is CPUAmpOptimWrapper
    assert wrapper.cast_dtype == torch.bfloat16
    assert not wrapper.loss_scaler.is_enabled()  # bf16: no loss scaling
    assert runner.iter == CLIPS // BATCH
    # The head's scores were bf16 (the model ran under autocast), its loss
    # fp32 and finite at every step.
    assert dtypes == [torch.bfloat16] * (CLIPS // BATCH)
    assert [loss.dtype for loss in losses] == [torch.float32] * len(dtypes)
    assert all(np.isfinite(loss.item()) for loss in losses)
    assert np.isfinite(runner.message_hub.get_scalar('train/loss').current())


def test_bf16_keeps_fp32_weights_and_moves_only_trainable_ones(
        bf16_and_fp32):
    (runner, _, _, before), _ = bf16_and_fp32
    params = dict(runner.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())
    for name, param in params.items():
        if not param.requires_grad:
            assert torch.equal(param, before[name]), name
    # The adapters and the head move. (fc_norm trains too, but the head's
    # BatchNorm removes its per-channel shift and scale, so its gradient is
    # zero up to rounding: not asserted.)
    moved = {n for n, p in params.items() if not torch.equal(p, before[n])}
    adapters = {n for n in params if 'adaptmlp' in n}
    head = {n for n in params if n.startswith('cls_head.fc_cls')}
    assert len(adapters) == 8 and adapters | head <= moved


def test_bf16_loss_is_close_to_fp32(bf16_and_fp32):
    (_, _, bf16, _), (_, dtypes, fp32, _) = bf16_and_fp32
    assert dtypes == [torch.float32] * (CLIPS // BATCH)
    # Same weights and batch: the first losses differ by bf16 rounding only.
    assert abs(bf16[0].item() - fp32[0].item()) <= 0.05 * fp32[0].item()
