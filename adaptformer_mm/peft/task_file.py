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

The *backbone checksum* identifies the frozen weights the task was trained
on: SHA-256 over the frozen parameters (dtype, shape and bytes) in sorted-name
order. Names are not hashed, so the value is the same for a recognizer
(``backbone.blocks.0...``) and for its bare backbone (``blocks.0...``).
Buffers are left out: in a ViT the only frozen buffer is the fixed sinusoid
position table, a function of the input size, not a learned weight.

Pure PyTorch: nothing here knows about mmengine or mmaction2.
"""
import hashlib
import os
import os.path as osp
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .tunable import summarize_parameters, tunable_state_dict

TASK_FILE_FORMAT = 'adaptformer_mm.task_file'
TASK_FILE_VERSION = 1
# Marker that a checkpoint (task file or mmengine checkpoint written by
# TunableCheckpointHook) holds only the trainable tensors.
TUNABLE_ONLY_KEY = 'tunable_only'
# Method settings copied into the metadata when the backbone has them.
METHOD_ATTRS = ('tuning', 'train_fc_norm', 'adapter_cfg', 'prompt_cfg')


class BackboneMismatchError(RuntimeError):
    """A task file or tunable-only checkpoint meets other frozen weights than
    the ones it was trained on."""


def tensor_checksum(tensors: Mapping[str, Tensor]) -> str:
    """``'sha256:<hex>'`` over dtype, shape and bytes of ``tensors`` in
    sorted-name order (names themselves are not hashed, so a common prefix
    such as ``backbone.`` does not change the value)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f'{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        # A uint8 view hashes every dtype (bfloat16 has no numpy type).
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return 'sha256:' + digest.hexdigest()


def frozen_param_names(model: nn.Module) -> List[str]:
    """Names of the parameters of ``model`` that do not train."""
    return [n for n, p in model.named_parameters() if not p.requires_grad]


def frozen_checksum(model: nn.Module,
                    state: Optional[Mapping[str, Tensor]] = None) -> str:
    """Backbone checksum of ``model``: :func:`tensor_checksum` over its frozen
    parameters, taken from ``state`` (keyed like ``model.state_dict()``)
    when given, else from the model itself."""
    params = dict(model.named_parameters())
    source = params if state is None else state
    return tensor_checksum(
        {n: source[n] for n in frozen_param_names(model)})


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


def make_task_file(model: nn.Module,
                   *,
                   config: str = '',
                   classes: Sequence[str] = (),
                   method: Optional[str] = None,
                   extra_meta: Optional[Mapping[str, Any]] = None,
                   state: Optional[Mapping[str, Tensor]] = None) -> TaskFile:
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
        method_cfg={a: getattr(backbone, a) for a in METHOD_ATTRS
                    if hasattr(backbone, a)},
        cfg=config,
        classes=[str(c) for c in classes],
        backbone_checksum=frozen_checksum(model, state),
        tunable_params=summary.trainable,
        total_params=summary.total,
        groups=dict(summary.groups),
    )
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


def backbone_state(checkpoint: Mapping,
                   prefix: str = 'backbone.') -> Dict[str, Tensor]:
    """The backbone tensors of a loaded checkpoint, keyed as in the whole
    model (``prefix`` + backbone key).

    Accepts a bare backbone state (``patch_embed...``, as a pretrained file
    holds it) or a recognizer / classifier checkpoint (``backbone.*`` keys,
    other keys dropped), at the top level or under ``state_dict``, ``model``
    or ``module``.
    """
    state = checkpoint
    for key in ('state_dict', 'model', 'module'):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    tensors = {k[7:] if k.startswith('module.') else k: v
               for k, v in state.items() if isinstance(v, Tensor)}
    if any(k.startswith(prefix) for k in tensors):
        return {k: v for k, v in tensors.items() if k.startswith(prefix)}
    return {prefix + k: v for k, v in tensors.items()}


def compose_state(model: nn.Module,
                  tunable: Mapping[str, Tensor],
                  frozen: Mapping[str, Tensor],
                  tunable_source: str = 'the task file',
                  frozen_source: str = 'the backbone') -> Dict[str, Tensor]:
    """The full state of ``model``: trainable tensors from ``tunable``, the
    rest from ``frozen`` (both keyed like ``model.state_dict()``).

    ``tunable`` must hold exactly the trainable state of ``model`` and
    ``frozen`` every frozen parameter; otherwise a ``KeyError`` names the
    keys and the sources. Frozen buffers ``frozen`` lacks keep the model's
    own values (the sinusoid position table is computed, not loaded).
    """
    own = model.state_dict()
    expected = set(tunable_state_dict(model))
    missing = sorted(expected - set(tunable))
    unexpected = sorted(set(tunable) - expected)
    if missing or unexpected:
        raise KeyError(
            f'{tunable_source} does not match the trainable part of the '
            f'model (was it trained with another method or head?): missing '
            f'{_short(missing)}; unexpected {_short(unexpected)}')
    frozen_params = frozen_param_names(model)
    lacking = [k for k in frozen_params if k not in frozen]
    if lacking:
        raise KeyError(
            f'{frozen_source} lacks {len(lacking)} frozen parameter(s) of the '
            f'model: {_short(lacking)} (is it a checkpoint of this backbone '
            'in mmaction2 layout? see tools/convert_ckpt.py)')
    state = {}
    for key, value in own.items():
        if key in expected:
            state[key] = tunable[key]
        elif key in frozen:
            state[key] = frozen[key]
        else:
            state[key] = value
    return state


def check_backbone_checksum(expected: str, actual: str, task: str,
                            backbone: str) -> None:
    """``BackboneMismatchError`` naming both checksums unless they agree."""
    if expected != actual:
        raise BackboneMismatchError(
            f'{task} was trained on a backbone with checksum {expected}, but '
            f'the frozen weights from {backbone} have checksum {actual}; '
            'refusing to combine them (use the pretrained backbone file the '
            'task was trained on)')


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
    frozen = model.state_dict() if frozen is None else frozen
    state = compose_state(model, task.state_dict, frozen, where,
                          backbone_name)
    check_backbone_checksum(task.backbone_checksum,
                            frozen_checksum(model, state), where,
                            backbone_name)
    model.load_state_dict(state, strict=True, assign=assign)
    return task


def _short(keys: Iterable[str], limit: int = 8) -> str:
    keys = list(keys)
    if not keys:
        return 'none'
    more = f' ... ({len(keys)} in all)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more
