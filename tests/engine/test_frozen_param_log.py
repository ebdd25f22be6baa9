"""A frozen backbone's training log: one line instead of one mmengine warning
per frozen tensor, every other warning kept, while the choice is on (and
only then)."""
import glob
import logging
import os.path as osp
import uuid

import torch
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

import adaptformer_mm  # noqa: F401  (registrations)
from adaptformer_mm.engine.frozen_param_log import (SKIPPED,
                                                    fold_frozen_param_warnings,
                                                    summary_line)
from mmaction.structures import ActionDataSample
from ..apis.tiny_tasks import VIT, tiny_cfg

SENTENCE = 'is skipped since its requires_grad=False'
OPTIM = dict(type='OptimWrapper',
             optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
# With paramwise_cfg, mmengine leaves frozen tensors out one by one.
PARAMWISE = dict(norm_decay_mult=0.0, bias_decay_mult=0.0)


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelno, record.getMessage()))


def _logger():
    logger = MMLogger.get_instance(f'frozen_{uuid.uuid4().hex[:8]}',
                                   log_level='INFO')
    records = Records()
    logger.addHandler(records)
    return logger, records


def _model_and_constructor():
    """A frozen Linear (2 tensors, 20 parameters), a LayerNorm and two heads
    sharing a weight (mmengine warns about the duplicate)."""
    frozen = nn.Linear(4, 4)
    frozen.requires_grad_(False)
    first, second = nn.Linear(4, 2), nn.Linear(4, 2)
    second.weight = first.weight
    model = nn.Sequential(frozen, nn.LayerNorm(4), first, second)
    constructor = DefaultOptimWrapperConstructor(
        ConfigDict(OPTIM), ConfigDict(dict(PARAMWISE, bypass_duplicate=True)))
    return model, constructor


def test_without_the_choice_mmengine_warns_per_tensor():
    logger, records = _logger()
    model, constructor = _model_and_constructor()
    constructor(model)  # importing adaptformer_mm switched nothing on
    skipped = [m for level, m in records.messages
               if level == logging.WARNING and SENTENCE in m]
    assert skipped == [f'0.weight {SENTENCE}', f'0.bias {SENTENCE}']


def test_only_the_frozen_tensor_warnings_fold_into_one_line():
    logger, records = _logger()
    model, constructor = _model_and_constructor()
    with fold_frozen_param_warnings():
        with fold_frozen_param_warnings():  # re-entrant: folds once
            wrapper = constructor(model)
    add_params = DefaultOptimWrapperConstructor.add_params
    assert not hasattr(add_params, '__wrapped__')  # mmengine's own again
    messages = [m for _, m in records.messages]
    assert not [m for m in messages if SENTENCE in m]
    # The constructor's other warning (a parameter met twice) still shows.
    assert [m for level, m in records.messages
            if level == logging.WARNING and 'is duplicate' in m]
    assert messages.count(summary_line(2, 20)) == 1
    # LayerNorm 2, first 2, second's bias: the frozen two are left out.
    assert len(wrapper.optimizer.param_groups) == 5
    # The filter lives only while the constructor runs.
    assert not logger.filters
    logger.warning(f'.weight {SENTENCE}')
    assert records.messages[-1][1] == f'.weight {SENTENCE}'


def test_the_pattern_is_exactly_mmengines_sentence():
    assert SKIPPED.match(f'backbone.blocks.0.attn.qkv.weight {SENTENCE}')
    assert SKIPPED.match(f'.cls_token {SENTENCE}')  # a top-level parameter
    assert not SKIPPED.match('backbone.x is skipped since its '
                             'requires_grad=True')
    assert not SKIPPED.match(f'oops: backbone.x {SENTENCE}; and more')


def test_a_frozen_vit_trains_with_one_summary_line(tmp_path):
    # Linear probing of a tiny VideoMAE ViT: every stock tensor but fc_norm
    # is frozen.
    cfg = tiny_cfg(3, method='TunableVideoViT')
    gen = torch.Generator().manual_seed(0)
    clips = [dict(inputs=torch.randn(1, 3, VIT['num_frames'], 64, 64,
                                     generator=gen) * 50 + 114,
                  data_samples=ActionDataSample().set_gt_label(i % 3))
             for i in range(4)]
    runner = Runner(
        model=cfg.model.to_dict(),
        work_dir=str(tmp_path),
        experiment_name=f'frozen_{uuid.uuid4().hex[:8]}',
        train_dataloader=DataLoader(clips, batch_size=2,
                                    collate_fn=pseudo_collate),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(OPTIM, paramwise_cfg=PARAMWISE),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type='TunableSummaryHook')],
        default_scope='mmaction')
    with fold_frozen_param_warnings():
        runner.train()
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    frozen = [p for p in runner.model.parameters() if not p.requires_grad]
    assert len(frozen) > 20
    assert SENTENCE not in log
    line = summary_line(len(frozen), sum(p.numel() for p in frozen))
    assert log.count(line) == 1
    assert 'trainable params:' in log  # TunableSummaryHook: what trains
