"""Task files: the trainable part of a model, saved alone, with metadata.

Both papers sell storage: a task costs its adapters or prompts and its head
(about 5 MB for AdaptFormer-64 on ViT-B) instead of a 350 MB model. A task
file is that part plus what is needed to use it safely::

    {'meta': {'format': 'adaptformer_mm.task_file', 'version': 1,
              'method': 'AdaptFormerVideoViT', 'method_cfg': {...},
              'cfg': '<config text>', 'classes': [...],
              'backbone_checksum': 'sha256:...', 'tunable_params': N,
              'total_params': M, 'groups': {name: count}, ...},
     'state_dict': {'backbone.blocks.0.adaptmlp.down.weight': Tensor, ...,
                    'cls_head.bn.running_mean': Tensor, ...}}

Keys are those of ``model.state_dict()`` (module prefixes kept), and the
layout is that of an mmengine checkpoint, so ``load_from``, ``tools/test.py``
and the Runner read a task file like any checkpoint. The file holds plain
tensors, strings, numbers, lists and dicts only and is always read with
``torch.load(weights_only=True)`` and no extra allowed globals: loading a task
file never executes code from it.

This module is the file format: making a task file from a model, saving it,
reading it back (plain data only), and telling a tunable-only checkpoint from
a full one. How the trainable tensors are completed with the frozen backbone,
checked by the *backbone checksum* and restored into a model is
:mod:`~adaptformer_mm.peft.tunable_state` (:func:`load_task_file` is a thin
wrapper over :func:`~adaptformer_mm.peft.tunable_state.restore_tunable_state`).
``method_cfg`` holds the backbone's tuning settings, each method config in
its plain form (:meth:`~adaptformer_mm.peft.config.MethodConfig.to_dict`).
A task trained on a class-balanced subset (a data-scale run) also records
that subset (``data_subset``: fraction or shots, seed, fold, count per class;
:data:`DATASET_META_KEYS`).

Pure PyTorch: nothing here knows about mmengine or mmaction2.
"""
import os
import os.path as osp
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .config import MethodConfig
from .tunable import summarize_parameters, tunable_state_dict
# Re-exported: state assembly lived here before the split.
from .tunable_state import (BackboneMismatchError, backbone_state,  # noqa
                            check_backbone_checksum, compose_state,
                            frozen_checksum, frozen_param_names,
                            restore_tunable_state, tensor_checksum)

TASK_FILE_FORMAT = 'adaptformer_mm.task_file'
TASK_FILE_VERSION = 1
# Marker that a checkpoint (task file or mmengine checkpoint written by
# TunableCheckpointHook) holds only the trainable tensors.
TUNABLE_ONLY_KEY = 'tunable_only'
# Backbone settings copied into the metadata when the backbone has them;
# every method config (a MethodConfig attribute) is copied too, under its key.
METHOD_ATTRS = ('tuning', 'train_final_norm')
# Training-set settings copied into the metadata when the train dataset's
# metainfo has them: the data-scale subset of
# adaptformer_mm/datasets/balanced_subset.py.
DATASET_META_KEYS = ('data_subset',)


def _check_plain(value: Any, where: str) -> Any:
    """``value`` with tuples turned into lists; a ``TypeError`` naming
    ``where`` for anything ``torch.load(weights_only=True)`` would refuse or
    that is not plain data."""
    if value is None or isinstance(value, (bool, int, float, str, Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        return [_check_plain(v, f'{where}[{i}]') for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f'task file {where}: keys must be strings, '
                                f'got {key!r}')
            out[key] = _check_plain(item, f'{where}.{key}')
        return out
    raise TypeError(
        f'task file {where}: {type(value).__name__} is not allowed; a task '
        'file holds tensors, str, int, float, bool, None, lists and dicts '
        'only (so it loads with torch.load(weights_only=True))')


@dataclass
class TaskFile:
    """A task file in memory: the trainable tensors and their metadata."""
    state_dict: Dict[str, Tensor]
    meta: Dict[str, Any] = field(default_factory=dict)
    path: Optional[str] = None

    @property
    def method(self) -> str:
        return self.meta.get('method', '')

    @property
    def classes(self) -> List[str]:
        return list(self.meta.get('classes') or [])

    @property
    def config(self) -> str:
        """The training config as Python text ('' when unknown)."""
        return self.meta.get('cfg') or ''

    @property
    def backbone_checksum(self) -> str:
        return self.meta['backbone_checksum']

    @property
    def name(self) -> str:
        return osp.splitext(osp.basename(self.path))[0] if self.path else ''

    def num_bytes(self) -> int:
        """Bytes of tensor data (the file adds a few KB of pickle)."""
        return sum(t.numel() * t.element_size()
                   for t in self.state_dict.values())


def method_settings(backbone: nn.Module) -> Dict[str, Any]:
    """The tuning settings of ``backbone`` as plain data: each of
    :data:`METHOD_ATTRS` it has, and every method config it holds
    (``adapter_cfg``, ``prompt_cfg``, ``lora_cfg``, ...) under its
    :attr:`~adaptformer_mm.peft.config.MethodConfig.key` in its
    :meth:`~adaptformer_mm.peft.config.MethodConfig.to_dict` form."""
    out = {name: getattr(backbone, name) for name in METHOD_ATTRS
           if hasattr(backbone, name)}
    configs = [v for v in vars(backbone).values()
               if isinstance(v, MethodConfig)]
    out.update({cfg.key: cfg.to_dict() for cfg in configs})
    return out


def make_task_file(model: nn.Module,
                   *,
                   config: str = '',
                   classes: Sequence[str] = (),
                   method: Optional[str] = None,
                   extra_meta: Optional[Mapping[str, Any]] = None,
                   state: Optional[Mapping[str, Tensor]] = None,
                   dataset_meta: Optional[Mapping[str, Any]] = None
                   ) -> TaskFile:
    """Collect the trainable state of ``model`` and its metadata.

    Args:
        model: the whole model (recognizer / classifier) with its trainable
            set decided; a ``backbone`` attribute, when present, names the
            method (its class) and its settings (``adapter_cfg``, ...).
        config: the training config as Python text (mmengine's
            ``cfg.pretty_text``), so the task can be rebuilt from the file.
        classes: class names, index = label.
        method: overrides the method name taken from the backbone class.
        extra_meta: more plain metadata (source checkpoint, epoch, ...).
        state: take the tensors from this state dict (keyed like
            ``model.state_dict()``) instead of the model.
        dataset_meta: the training set's ``metainfo`` (or a checkpoint's
            ``meta.dataset_meta``); its :data:`DATASET_META_KEYS` entries
            are recorded (``data_subset``: fraction or shots, seed, fold,
            count per class).
    """
    keys = list(tunable_state_dict(model))
    source = model.state_dict() if state is None else state
    missing = [k for k in keys if k not in source]
    if missing:
        raise KeyError(f'trainable tensors missing from the state: {missing}')
    tensors = OrderedDict(
        (k, source[k].detach().cpu().clone()) for k in keys)
    backbone = getattr(model, 'backbone', model)
    summary = summarize_parameters(model)
    meta = dict(
        format=TASK_FILE_FORMAT,
        version=TASK_FILE_VERSION,
        method=method or type(backbone).__name__,
        method_cfg=method_settings(backbone),
        cfg=config,
        classes=[str(c) for c in classes],
        backbone_checksum=frozen_checksum(model, state),
        tunable_params=summary.trainable,
        total_params=summary.total,
        groups=dict(summary.groups),
    )
    meta.update({k: dataset_meta[k] for k in DATASET_META_KEYS
                 if dataset_meta and k in dataset_meta})
    meta.update(extra_meta or {})
    meta = _check_plain(meta, 'meta')
    return TaskFile(state_dict=dict(tensors), meta=meta)


def save_task_file(task: TaskFile, path: str, overwrite: bool = False) -> str:
    """Write ``task`` to ``path`` (a temporary file, then renamed, so a crash
    never leaves half a file). An existing ``path`` is a ``FileExistsError``
    unless ``overwrite``. Returns ``path``."""
    if osp.exists(path) and not overwrite:
        raise FileExistsError(
            f'{path} exists; refusing to overwrite it (choose another output '
            'path, or pass --force / overwrite=True)')
    for key, value in task.state_dict.items():
        if not isinstance(value, Tensor):
            raise TypeError(f'task file state_dict[{key!r}] is a '
                            f'{type(value).__name__}, not a tensor')
    payload = dict(meta=_check_plain(task.meta, 'meta'),
                   state_dict=dict(task.state_dict))
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.tmp{os.getpid()}')
    torch.save(payload, tmp)
    os.replace(tmp, path)
    task.path = path
    return path


def write_task_file(path: str,
                    model: nn.Module,
                    overwrite: bool = False,
                    **kwargs) -> TaskFile:
    """:func:`make_task_file` then :func:`save_task_file`."""
    task = make_task_file(model, **kwargs)
    save_task_file(task, path, overwrite=overwrite)
    return task


def read_task_file(path: str, map_location='cpu') -> TaskFile:
    """Read a task file with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: no such file.
        RuntimeError: the file holds anything but plain data (a pickled
            object would be code to run: it is refused, never executed), is
            not a torch file, or is not a task file (the message says how to
            make one).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'task file not found: {path}')
    try:
        payload = torch.load(path, map_location=map_location,
                             weights_only=True)
    except pickle.UnpicklingError as e:
        reason = _unpickler_reason(e)
        if 'global' in reason.lower():
            raise RuntimeError(
                f'refusing to load task file {path}: it holds Python objects, '
                'not only tensors and plain data, and loading them could '
                f'execute code (torch said: {reason})') from e
        raise RuntimeError(f'cannot read task file {path}: not a torch file '
                           f'or corrupted ({reason})') from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise RuntimeError(f'cannot read task file {path}: not a torch file '
                           f'or truncated ({type(e).__name__}: {e})') from e
    meta = payload.get('meta') if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or meta.get('format') != TASK_FILE_FORMAT:
        raise RuntimeError(
            f'{path} is not an adaptformer_mm task file (meta.format is not '
            f'{TASK_FILE_FORMAT!r}); write one from a training checkpoint '
            'with tools/export_peft.py')
    if meta.get('version', 0) > TASK_FILE_VERSION:
        raise RuntimeError(
            f'{path} is task file version {meta["version"]}; this '
            f'adaptformer_mm reads versions <= {TASK_FILE_VERSION}')
    return TaskFile(state_dict=dict(payload['state_dict']), meta=meta,
                    path=path)


def _unpickler_reason(error: Exception) -> str:
    """The line of torch's long weights-only message that says what failed
    (``... unsupported GLOBAL posix.system ...``, ``Unsupported operand``)."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    for line in lines:
        if 'global' in line.lower():
            return line
    for i, line in enumerate(lines):
        if 'WeightsUnpickler error' in line:
            detail = line.split('WeightsUnpickler error:', 1)[1].strip()
            return detail or (lines[i + 1] if i + 1 < len(lines) else line)
    return lines[-1] if lines else type(error).__name__


def tunable_only_info(checkpoint: Mapping) -> Optional[Dict[str, Any]]:
    """For a checkpoint that holds only trainable tensors (a task file, or an
    mmengine checkpoint written by ``TunableCheckpointHook``), the dict with
    its ``backbone_checksum``; None for a full checkpoint."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    if not isinstance(meta, Mapping):
        return None
    if meta.get('format') == TASK_FILE_FORMAT:
        return dict(backbone_checksum=meta['backbone_checksum'])
    info = meta.get(TUNABLE_ONLY_KEY)
    return dict(info) if isinstance(info, Mapping) else None


def load_task_file(model: nn.Module,
                   task: 'TaskFile | str',
                   frozen: Optional[Mapping[str, Tensor]] = None,
                   backbone_name: str = 'the model',
                   assign: bool = False) -> TaskFile:
    """Put a task file into ``model``.

    The frozen weights come from ``frozen`` (keyed like the model) when
    given, else they are the model's own. Their checksum must equal the task
    file's (:class:`BackboneMismatchError` naming both otherwise); then the
    whole state is loaded. With ``assign`` the model's tensors are replaced
    by (not copied from) the given ones, so models loaded from one ``frozen``
    dict share its memory.
    """
    if isinstance(task, str):
        task = read_task_file(task)
    where = f'task file {task.path}' if task.path else 'the task file'
    restore_tunable_state(model, task.state_dict, frozen,
                          task.backbone_checksum, where, backbone_name,
                          assign=assign)
    return task
