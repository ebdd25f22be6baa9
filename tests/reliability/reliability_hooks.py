"""Test-only hooks for the reliability tests, imported by their configs with
``custom_imports=dict(imports=['tests.reliability.reliability_hooks'])``."""
import json
import os
import os.path as osp
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAfterCheckpointHook(Hook):
    """SIGKILL its own process right after the checkpoint of ``epoch``: no
    Python cleanup runs, as when a machine dies or the OOM killer strikes."""

    # After CheckpointHook (VERY_LOW): the epoch's checkpoint is on disk.
    priority = 'LOWEST'

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class SignalAfterIterHook(Hook):
    """Send ``signal_name`` to its own process after iteration ``iteration``
    (1-based) has run and been logged, as Ctrl-C in the terminal would."""

    # After LoggerHook (BELOW_NORMAL), before InterruptCheckpointHook.
    priority = 'LOW'

    def __init__(self, iteration: int, signal_name: str = 'SIGINT') -> None:
        self.iteration = iteration
        self.signum = getattr(signal, signal_name)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), self.signum)


@HOOKS.register_module()
class RecorderHook(Hook):
    """Per rank, into the work dir: the trainable parameter names when
    training starts (after any resume) as one JSON line per run in
    ``record_rank{R}.jsonl``, the losses in ``losses_rank{R}.json`` and the
    final model state in ``state_rank{R}.pth``."""

    def before_train(self, runner) -> None:
        self.losses = []
        model = self._model(runner)
        entry = dict(epoch=runner.epoch, iter=runner.iter,
                     trainable=sorted(n for n, p in model.named_parameters()
                                      if p.requires_grad))
        with open(self._path(runner, 'record', 'jsonl'), 'a') as f:
            f.write(json.dumps(entry) + '\n')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append(float(outputs['loss'].detach()))

    def after_train(self, runner) -> None:
        with open(self._path(runner, 'losses', 'json'), 'w') as f:
            json.dump(self.losses, f)
        torch.save(self._model(runner).state_dict(),
                   self._path(runner, 'state', 'pth'))

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    @staticmethod
    def _path(runner, name, ext):
        return osp.join(runner.work_dir, f'{name}_rank{get_rank()}.{ext}')
