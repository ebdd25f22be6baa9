"""Tunable-only state: the trainable tensors of a model, completed with the
frozen ones of the backbone they were trained on, restored along one path.

Three kinds of file hold only what trains: a task file
(:mod:`~adaptformer_mm.peft.task_file`), a checkpoint written by
``TunableCheckpointHook`` and, at inference, either of them named on the
command line. They all come back into a model through
:func:`restore_tunable_state` (or :func:`complete_tunable_state` where the
caller loads the tensors itself, as mmengine's Runner does after a hook):

1. strip a ``module.`` prefix (DDP) from the trainable keys, once;
2. merge: the trainable tensors from the file, the frozen ones from the
   backbone (:func:`compose_state`); missing or unexpected keys are a
   ``KeyError`` naming them and both sources;
3. check the *backbone checksum* of the merged frozen tensors against the one
   the file records (:class:`BackboneMismatchError` naming both);
4. load the whole state, strictly.

The backbone checksum identifies the frozen weights a task was trained on:
SHA-256 over the frozen parameters (dtype, shape and bytes) in sorted-name
order. Names are not hashed, so the value is the same for a recognizer
(``backbone.blocks.0...``) and for its bare backbone (``blocks.0...``).
Buffers are left out: in a ViT the only frozen buffer is the fixed sinusoid
position table, a function of the input size, not a learned weight.

Pure PyTorch (and plain dicts for configs): nothing here imports mmengine or
OpenMMLab.
"""
import hashlib
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Optional

import torch
from torch import Tensor, nn

from .tunable import tunable_state_dict

__all__ = [
    'BackboneMismatchError', 'tensor_checksum', 'frozen_param_names',
    'frozen_checksum', 'strip_module_prefix', 'backbone_state',
    'compose_state', 'check_backbone_checksum', 'complete_tunable_state',
    'restore_tunable_state', 'pretrained_backbone_file'
]

#: What DDP / DataParallel put in front of every key of a wrapped model.
MODULE_PREFIX = 'module.'


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


def strip_module_prefix(state: Mapping[str, object]) -> 'OrderedDict':
    """``state`` with one leading ``module.`` (DDP) removed from each key;
    order and torch's per-module versions (``_metadata``) are kept."""
    out = OrderedDict(
        (k[len(MODULE_PREFIX):] if k.startswith(MODULE_PREFIX) else k, v)
        for k, v in state.items())
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:
        out._metadata = metadata
    return out


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
    tensors = {k: v for k, v in strip_module_prefix(state).items()
               if isinstance(v, Tensor)}
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


def complete_tunable_state(model: nn.Module,
                           tunable: Mapping[str, Tensor],
                           frozen: Mapping[str, Tensor],
                           expected_checksum: str,
                           tunable_source: str = 'the task file',
                           frozen_source: str = 'the backbone'
                           ) -> 'OrderedDict[str, Tensor]':
    """Steps 1-3 of the module docstring: the full state of ``model`` from
    its trainable tensors and the frozen backbone, after the checksum check.

    Args:
        model: the model the state is for, its trainable set decided.
        tunable: the trainable tensors (keyed like ``model.state_dict()``,
            a ``module.`` prefix allowed).
        frozen: tensors keyed like ``model.state_dict()`` holding at least
            every frozen parameter (e.g. :func:`backbone_state` of a
            pretrained file, or ``model.state_dict()``).
        expected_checksum: the backbone checksum the file records.
        tunable_source / frozen_source: how errors name the two sources.

    Returns:
        An ``OrderedDict`` in the order of ``model.state_dict()``, carrying
        the ``_metadata`` (torch's module versions) of ``tunable`` if any.

    Raises:
        KeyError: the trainable keys do not match the model, or ``frozen``
            lacks a frozen parameter (both named).
        BackboneMismatchError: the frozen tensors have another checksum.
    """
    tunable = strip_module_prefix(tunable)
    state = OrderedDict(
        compose_state(model, tunable, frozen, tunable_source, frozen_source))
    check_backbone_checksum(expected_checksum, frozen_checksum(model, state),
                            tunable_source, frozen_source)
    metadata = getattr(tunable, '_metadata', None)
    if metadata is not None:
        state._metadata = metadata
    return state


def restore_tunable_state(model: nn.Module,
                          tunable: Mapping[str, Tensor],
                          frozen: Optional[Mapping[str, Tensor]],
                          expected_checksum: str,
                          tunable_source: str = 'the task file',
                          frozen_source: str = 'the model',
                          assign: bool = False) -> None:
    """Put tunable-only state into ``model``: :func:`complete_tunable_state`
    then a strict ``load_state_dict``. Nothing is loaded when a check fails.

    ``frozen`` None takes the frozen tensors from the model itself. With
    ``assign`` the model's tensors are replaced by (not copied from) the
    given ones, so models restored from one ``frozen`` dict share its memory.
    """
    if frozen is None:
        frozen = model.state_dict()
    state = complete_tunable_state(model, tunable, frozen, expected_checksum,
                                   tunable_source, frozen_source)
    model.load_state_dict(state, strict=True, assign=assign)


def pretrained_backbone_file(cfg: Mapping) -> Optional[str]:
    """``model.backbone.init_cfg.checkpoint`` of a config (any mapping with
    ``get``, e.g. an mmengine ``Config``) when that init is ``Pretrained``,
    else None: where the frozen tensors of a tunable-only file come from when
    no backbone file is named."""
    init_cfg = cfg.get('model', {}).get('backbone', {}).get('init_cfg')
    if isinstance(init_cfg, (list, tuple)):
        init_cfg = next((c for c in init_cfg
                         if c.get('type') == 'Pretrained'), None)
    if init_cfg and init_cfg.get('type') == 'Pretrained':
        return init_cfg.get('checkpoint')
    return None


def _short(keys: Iterable[str], limit: int = 8) -> str:
    keys = list(keys)
    if not keys:
        return 'none'
    more = f' ... ({len(keys)} in all)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more
