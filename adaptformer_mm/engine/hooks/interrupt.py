"""Ctrl-C during training leaves a checkpoint that ``--resume`` continues.

mmengine's ``Runner.train`` has no ``try``: a ``KeyboardInterrupt`` ends the
run and everything since the last ``CheckpointHook`` save is lost. Saving in an
``except KeyboardInterrupt`` around ``runner.train()`` would be unsafe: the
exception can arrive in the middle of ``optimizer.step()``, with some
parameters (or the scheduler) updated and others not, and that state would be
saved as if it were consistent.

:class:`InterruptCheckpointHook` therefore only *notes* the signal (its
handler sets a flag) and lets the current training iteration finish. After the
iteration (the last ``after_train_iter`` hook, once the schedulers stepped and
``CheckpointHook`` ran) it saves ``interrupted_iter_N.pth`` with optimizer and
scheduler state beside the other checkpoints, points ``last_checkpoint`` at it
and raises ``KeyboardInterrupt``. A second Ctrl-C stops at once without saving.
``tools/train.py`` registers the hook for every run, reports the file and
exits with status 130.

Resuming (``--resume``): mmengine's ``EpochBasedTrainLoop`` cannot resume in
the middle of an epoch. The run continues with the weights, optimizer and
scheduler state and iteration count of the interruption, and repeats the
interrupted epoch from its first batch.

Distributed runs: each rank notes the signal; the flag is reduced across ranks
after every iteration, so all ranks stop after the same one and rank 0 saves.
"""
import os
import os.path as osp
import signal
import threading
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS

__all__ = ['InterruptCheckpointHook', 'ensure_interrupt_hook',
           'interrupt_report']


@HOOKS.register_module()
class InterruptCheckpointHook(Hook):
    """Save a resumable checkpoint when training is interrupted by a signal.

    Args:
        signals (Sequence[str]): Signals that stop the run after the current
            iteration. Default ``('SIGINT', )`` (Ctrl-C). ``'SIGTERM'`` may be
            added for schedulers that send it before killing a job; it is not
            the default because launchers (torchrun) also send SIGTERM to the
            surviving ranks when one rank fails, which must stop them at once.
        filename_tmpl (str): Checkpoint file name, formatted with the number
            of finished iterations.

    Attributes:
        saved (str or None): Path of the checkpoint written on interruption.
    """

    # After every other after_train_iter hook: ParamSchedulerHook has stepped
    # the schedulers and CheckpointHook has saved, as at a regular save.
    priority = 'LOWEST'

    def __init__(self,
                 signals: Sequence[str] = ('SIGINT', ),
                 filename_tmpl: str = 'interrupted_iter_{}.pth') -> None:
        unknown = [s for s in signals if not hasattr(signal, s)]
        if unknown:
            raise ValueError(f'unknown signal names {unknown}; use names of '
                             'the signal module, e.g. SIGINT, SIGTERM')
        self.signals = tuple(signals)
        self.filename_tmpl = filename_tmpl
        self.saved: Optional[str] = None
        self.requested = False
        self._previous = {}
        self._pid = os.getpid()

    # -------------------------------------------------------------- signals
    def before_train(self, runner) -> None:
        self.saved = None
        self.requested = False
        if threading.current_thread() is not threading.main_thread():
            # signal.signal works only in the main thread.
            runner.logger.warning(
                'InterruptCheckpointHook: training runs outside the main '
                'thread; an interruption will not save a checkpoint.')
            return
        self._pid = os.getpid()
        for name in self.signals:
            signum = getattr(signal, name)
            self._previous[signum] = signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        if os.getpid() != self._pid:
            # A forked dataloader worker inherited this handler; Ctrl-C in a
            # terminal reaches it too. It keeps serving batches until the
            # main process stops after the iteration.
            return
        if self.requested:
            # Second signal: the user wants out now.
            self._restore()
            raise KeyboardInterrupt
        self.requested = True
        print(f'\n{signal.Signals(signum).name} received: stopping after the '
              'current training iteration and saving a checkpoint (press '
              'Ctrl-C again to stop at once, without saving).', flush=True)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def after_train(self, runner) -> None:
        self._restore()

    # ---------------------------------------------------------------- saving
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self._stop_requested():
            return
        self._restore()
        filename = self.filename_tmpl.format(runner.iter + 1)
        out_dir = self._out_dir(runner)
        path = osp.join(out_dir, filename)
        # As CheckpointHook: the message hub is saved with the checkpoint and
        # tells a resumed CheckpointHook which file is the latest.
        runner.message_hub.update_info('last_ckpt', path)
        runner.save_checkpoint(out_dir, filename, by_epoch=False)
        if is_main_process():
            with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
                f.write(path)
        self.saved = path
        runner.logger.warning(
            f'Training interrupted after iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}, batch {batch_idx + 1}); saved {path}. '
            'Continue with --resume (the interrupted epoch restarts from its '
            'first batch).')
        raise KeyboardInterrupt

    def _stop_requested(self) -> bool:
        if get_world_size() == 1:
            return self.requested
        # All ranks must stop after the same iteration, or the next
        # collective (DDP's gradient all-reduce) would hang.
        flag = torch.tensor([int(self.requested)])
        all_reduce(flag, op='max')
        return bool(flag.item())

    @staticmethod
    def _out_dir(runner) -> str:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and getattr(
                    hook, 'out_dir', None):
                return hook.out_dir
        return runner.work_dir


def ensure_interrupt_hook(runner) -> InterruptCheckpointHook:
    """The runner's :class:`InterruptCheckpointHook`, registered if absent."""
    for hook in runner.hooks:
        if isinstance(hook, InterruptCheckpointHook):
            return hook
    hook = InterruptCheckpointHook()
    runner.register_hook(hook)
    return hook


def interrupt_report(runner, hook: InterruptCheckpointHook) -> str:
    """What an interrupted run leaves behind, for the user."""
    if hook.saved:
        return (f'\ninterrupted: saved {hook.saved}\n'
                'continue with: --resume (same config and --work-dir)')
    last = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            latest = f.read().strip()
        return (f'\ninterrupted before a checkpoint could be saved; the '
                f'latest one is {latest} (--resume continues from it)')
    return '\ninterrupted before any checkpoint was saved'
