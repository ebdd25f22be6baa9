"""Checkpoints that hold only what trains (adapters, prompts, norm, head).

A frozen ViT-B costs 350 MB per checkpoint although only ~5 MB of it changes.
:class:`TunableCheckpointHook` makes the checkpoints mmengine's
``CheckpointHook`` writes (every interval, ``save_best``, ``last_checkpoint``
and ``max_keep_ckpts`` unchanged) hold only the trainable tensors, and writes
a task file at the end of training. Loading such a checkpoint (``--resume``,
``load_from``, ``tools/test.py``) takes the frozen weights from the pretrained
backbone and refuses a backbone with another checksum, along the one restore
path of :mod:`adaptformer_mm.peft.tunable_state`.
"""
import os.path as osp
from collections import OrderedDict
from typing import Optional

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from adaptformer_mm.engine.checkpoint_io import safe_torch_load
from adaptformer_mm.peft import tunable_state_dict
from adaptformer_mm.peft.task_file import (TUNABLE_ONLY_KEY,
                                           tunable_only_info, write_task_file)
from adaptformer_mm.peft.tunable_state import (backbone_state,
                                               complete_tunable_state,
                                               frozen_checksum,
                                               pretrained_backbone_file)


@HOOKS.register_module()
class TunableCheckpointHook(Hook):
    """Save and load tunable-only checkpoints.

    Saving (``before_save_checkpoint``): unless ``save_full``, the state dict
    of every checkpoint the Runner writes is cut down to the trainable groups
    (parameters and persistent buffers, e.g. a BatchNorm head's running
    statistics), keyed as in the model (``backbone.blocks.3.adaptmlp.*``,
    ``cls_head.*``). Optimizer, scheduler and message-hub state stay, so the
    checkpoint still resumes; ``meta.tunable_only`` records the backbone
    checksum. After training, ``task_file`` (if set) is written to the work
    dir: the trainable tensors plus config, classes and checksum
    (:mod:`adaptformer_mm.peft.task_file`).

    Loading (``after_load_checkpoint``, before the tensors reach the model):
    a tunable-only checkpoint or task file is completed with the frozen
    weights from ``backbone_checkpoint``, or, when that is None, from the
    model itself (in training the Runner has just run ``init_weights``, i.e.
    the config's ``Pretrained`` backbone). Frozen weights whose checksum
    differs from the one recorded are refused, which also catches a resume
    with a randomly initialised backbone. Full checkpoints are untouched.

    Args:
        save_full (bool): Keep full checkpoints (the task file is then saved
            alongside them). Default False: tunable-only checkpoints.
        task_file (str, optional): File name (in the work dir) of the task
            file written after training; None writes none.
        backbone_checkpoint (str, optional): Pretrained backbone for loading
            tunable-only checkpoints: a bare backbone state or a recognizer
            checkpoint (``backbone.*`` keys). ``tools/test.py --backbone``
            sets it.
        backbone_prefix (str): Where the backbone sits in the model.
    """

    priority = 'LOW'

    def __init__(self,
                 save_full: bool = False,
                 task_file: Optional[str] = 'task.pth',
                 backbone_checkpoint: Optional[str] = None,
                 backbone_prefix: str = 'backbone.') -> None:
        if task_file is not None and (not isinstance(task_file, str)
                                      or not task_file):
            raise ValueError('TunableCheckpointHook.task_file must be a file '
                             f'name or None, got {task_file!r}')
        self.save_full = save_full
        self.task_file = task_file
        self.backbone_checkpoint = backbone_checkpoint
        self.backbone_prefix = backbone_prefix
        self._checksum: Optional[str] = None

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _frozen_checksum(self, model) -> str:
        # Frozen weights never change during training: hash them once.
        if self._checksum is None:
            self._checksum = frozen_checksum(model)
        return self._checksum

    # -------------------------------------------------------------- saving
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.save_full:
            return
        model = self._model(runner)
        keys = set(tunable_state_dict(model))
        full = checkpoint['state_dict']
        state = OrderedDict((k, v) for k, v in full.items() if k in keys)
        metadata = getattr(full, '_metadata', None)
        if metadata is not None:  # module versions, as torch saves them
            state._metadata = metadata
        checkpoint['state_dict'] = state
        checkpoint['meta'][TUNABLE_ONLY_KEY] = dict(
            backbone_checksum=self._frozen_checksum(model),
            backbone_prefix=self.backbone_prefix,
            pretrained=pretrained_backbone_file(runner.cfg) or '')

    @master_only
    def after_train(self, runner) -> None:
        if self.task_file is None:
            return
        path = osp.join(runner.work_dir, self.task_file)
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        metainfo = getattr(dataset, 'metainfo', None) or {}
        task = write_task_file(
            path,
            self._model(runner),
            overwrite=True,  # this run's own output (a resumed run renews it)
            config=runner.cfg.pretty_text,
            classes=metainfo.get('classes') or (),
            dataset_meta=metainfo,  # a data-scale subset's settings
            extra_meta=dict(epoch=runner.epoch, iter=runner.iter))
        runner.logger.info(
            f'task file (trainable tensors only, '
            f'{task.num_bytes() / 2**20:.2f} MiB of tensors): {path}')

    # ------------------------------------------------------------- loading
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        info = tunable_only_info(checkpoint)
        if info is None:
            return
        model = self._model(runner)
        if self.backbone_checkpoint:
            source = self.backbone_checkpoint
            frozen = backbone_state(
                safe_torch_load(source, map_location='cpu'),
                self.backbone_prefix)
        else:
            source = ('the model as initialised (model.backbone.init_cfg: '
                      f'{pretrained_backbone_file(runner.cfg) or "none"})')
            frozen = model.state_dict()
        what = 'the loaded checkpoint (trainable tensors only)'
        # The Runner loads the completed state itself, right after this hook
        # (keeping torch's per-module versions, ``_metadata``).
        checkpoint['state_dict'] = complete_tunable_state(
            model, checkpoint['state_dict'], frozen,
            info['backbone_checksum'], what, source)
        runner.logger.info(
            f'tunable-only checkpoint: trainable tensors from the file, '
            f'frozen ones from {source} (checksum '
            f'{info["backbone_checksum"]} verified)')
