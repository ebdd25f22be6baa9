"""Strict checkpoint loading: refuse tensors that do not fit, naming the file.

A choice of this project, not a fix: switched on by the config key
``strict_loading = True`` (set in ``configs/_base_/default_runtime.py`` and
the image runtime) through :func:`~.choices.runtime_choices`, which
``tools/train.py`` and ``tools/test.py`` enter around the run; other code
uses the :func:`strict_loading` context manager. ``strict_loading = False``
keeps mmengine's behaviour.

mmengine 0.10.7 loads every checkpoint (``load_from``, ``resume``, the
``Pretrained`` initializer) through
``mmengine.runner.checkpoint.load_state_dict`` with ``strict=False``. That
function turns torch's size-mismatch errors into a WARNING and loads
everything else: a checkpoint of another architecture (other ``embed_dims``,
``num_classes``, patch size...) then trains with the mismatching tensors
silently left at their random init. It also accepts a checkpoint none of
whose keys fit the model (wrong ``prefix``), which trains a randomly
initialised model.

Inside :func:`strict_loading`, mmengine uses :func:`load_state_dict`
instead, which behaves the same (missing and unexpected keys stay a warning;
the tunable backbones already name missing frozen tensors loudly) except
that it raises :class:`CheckpointMismatchError`

* when any tensor has another shape than the model's: the message names the
  checkpoint file and the first mismatching keys with both shapes;
* when not one tensor of a non-empty checkpoint fits the model.

A module's own ``_load_from_state_dict`` may still adapt a tensor before the
check (the video backbones fit ``pos_embed`` to another frame count), so the
check compares what the module was actually given, after such adaptation.
Reading the file (and its errors: missing, truncated, not a path) is
:mod:`~.checkpoint_io`'s, whatever this switch says.
"""
import logging
import weakref
from collections import deque
from contextlib import contextmanager
from typing import Deque, Iterator, List, Mapping, Optional, Tuple
from unittest import mock

import torch
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner.checkpoint import _IncompatibleKeys
from torch.nn.parameter import is_lazy

__all__ = ['CheckpointMismatchError', 'load_state_dict', 'strict_loading']

# How many mismatching keys a message lists before "... and N more".
SHOWN_KEYS = 8

_TORCH_SIZE_MISMATCH = 'size mismatch for '


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not fit the model it is loaded into."""


# The files checkpoints were last read from, each with weak references to the
# tensors read: the CheckpointLoader wrapper adds one per read, and
# load_state_dict names a file only when the state dict it is given holds
# tensors of that read (mmengine reads the file and loads the state dict in
# two calls, ``_load_checkpoint`` then ``load_state_dict``, and the second
# never learns the file name). The link is the tensors themselves, not the
# order of the calls: a state dict built in memory is never blamed on a file
# read earlier, whatever was or was not loaded in between, and nothing is
# kept alive (a dead reference matches nothing).
_READS: Deque[Tuple[str, List[weakref.ref]]] = deque(maxlen=8)


def _tensors(checkpoint) -> List[torch.Tensor]:
    """The tensors of a read checkpoint: its own values and those one dict
    down (``state_dict``, ``model``, ``module``...)."""
    if not isinstance(checkpoint, Mapping):
        return []
    found = []
    for value in checkpoint.values():
        if torch.is_tensor(value):
            found.append(value)
        elif isinstance(value, Mapping):
            found += [v for v in value.values() if torch.is_tensor(v)]
    return found


def _remember_read(filename: str, checkpoint) -> None:
    _READS.append((filename, [weakref.ref(t) for t in _tensors(checkpoint)]))


def source_of(state_dict) -> Optional[str]:
    """The file the tensors of ``state_dict`` were read from (the latest of
    the recent reads that holds any of them), or None for tensors that no
    recent read produced."""
    given = {id(v) for v in state_dict.values() if torch.is_tensor(v)}
    for filename, refs in reversed(list(_READS)):
        # Both tensors alive at once: equal ids are the same tensor.
        if any(id(t) in given for t in (r() for r in refs) if t is not None):
            return filename
    return None


def load_state_dict(module, state_dict, strict=False, logger=None):
    """mmengine's ``load_state_dict`` that refuses tensors of another shape.

    Same arguments and the same treatment of model wrappers, metadata,
    ``num_batches_tracked`` and missing / unexpected keys as
    ``mmengine.runner.checkpoint.load_state_dict`` (0.10.7).

    Raises:
        CheckpointMismatchError: a tensor's shape differs from the model's
            (the first mismatching keys are listed with both shapes), another
            copy error, or no tensor of the checkpoint has a place in the
            model. Nothing is left half-trained: the run stops here.
        RuntimeError: ``strict=True`` and keys are missing or unexpected
            (as in mmengine).
    """
    source = source_of(state_dict)
    unexpected_keys: List[str] = []
    missing_keys: List[str] = []
    err_msg: List[str] = []
    mismatched: List[Tuple[str, tuple, tuple]] = []

    metadata = getattr(state_dict, '_metadata', None)
    state_dict = state_dict.copy()
    if metadata is not None:
        state_dict._metadata = metadata

    def load(module, local_state_dict, prefix=''):
        if is_model_wrapper(module) or isinstance(module, BaseTTAModel):
            module = module.module
        local_metadata = {} if metadata is None else metadata.get(
            prefix[:-1], {})
        module._load_from_state_dict(local_state_dict, prefix, local_metadata,
                                     True, missing_keys, unexpected_keys,
                                     err_msg)
        # Compared after _load_from_state_dict: it may have adapted a tensor
        # in local_state_dict (e.g. a position table for another frame count).
        mismatched.extend(_shape_mismatches(module, local_state_dict, prefix))
        for name, child in module._modules.items():
            if child is not None:
                child_prefix = prefix + name + '.'
                child_state_dict = {
                    k: v
                    for k, v in local_state_dict.items()
                    if k.startswith(child_prefix)
                }
                load(child, child_state_dict, child_prefix)

        incompatible_keys = _IncompatibleKeys(missing_keys, unexpected_keys)
        for hook in getattr(module, '_load_state_dict_post_hooks',
                            {}).values():
            out = hook(module, incompatible_keys)
            assert out is None, (
                'Hooks registered with ``register_load_state_dict_post_hook`` '
                'are not expected to return new values, if incompatible_keys '
                'need to be modified, it should be done inplace.')

    load(module, state_dict)
    load = None  # break load->load reference cycle

    where = f'checkpoint {source}' if source else 'the state dict'
    # torch reports size mismatches in err_msg too; they are listed above
    # with both shapes, so only other copy errors are kept from torch.
    other_errors = [
        m for m in err_msg if not m.startswith(_TORCH_SIZE_MISMATCH)
    ]
    if mismatched or other_errors:
        raise CheckpointMismatchError(
            _mismatch_message(where, mismatched, other_errors))

    missing_keys = [k for k in missing_keys if 'num_batches_tracked' not in k]
    tensors = [k for k, v in state_dict.items() if torch.is_tensor(v)]
    if tensors and set(tensors) <= set(unexpected_keys) and missing_keys:
        raise CheckpointMismatchError(
            f'{where}: none of its {len(tensors)} tensors has a place in the '
            f'model {type(_unwrap(module)).__name__}, which would train from '
            f'its random init. Checkpoint keys: {_first(tensors)}; model '
            f'keys: {_first(missing_keys)}. A recognizer checkpoint loaded '
            'into a backbone needs init_cfg prefix=\'backbone.\'; an '
            'original VideoMAE file needs tools/convert_ckpt.py first.')

    messages = []
    if unexpected_keys:
        messages.append('unexpected key in source state_dict: '
                        f'{", ".join(unexpected_keys)}\n')
    if missing_keys:
        messages.append('missing keys in source state_dict: '
                        f'{", ".join(missing_keys)}\n')
    rank, _ = get_dist_info()
    if messages and rank == 0:
        head = 'The model and loaded state dict do not match exactly'
        if source:
            head += f' ({source})'
        text = '\n'.join([head + '\n'] + messages)
        if strict:
            raise RuntimeError(text)
        print_log(text, logger=logger, level=logging.WARNING)


def _unwrap(module):
    return module.module if is_model_wrapper(module) else module


def _shape_mismatches(module, local_state_dict, prefix):
    """``(key, checkpoint shape, model shape)`` of the module's own tensors."""
    own = dict(module._parameters)
    own.update((name, buf) for name, buf in module._buffers.items()
               if name not in module._non_persistent_buffers_set)
    found = []
    for name, param in own.items():
        key = prefix + name
        value = local_state_dict.get(key)
        if param is None or value is None or not torch.is_tensor(value) \
                or is_lazy(param):
            continue
        have, want = tuple(value.shape), tuple(param.shape)
        # torch accepts a (1,) tensor for a 0-d parameter (old checkpoints).
        if have != want and not (want == () and have == (1, )):
            found.append((key, have, want))
    return found


def _first(keys, limit: int = 4) -> str:
    keys = list(keys)
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def _mismatch_message(where, mismatched, other_errors) -> str:
    lines = [f'{where} does not fit the model:']
    if mismatched:
        lines.append(f'{len(mismatched)} tensor(s) have another shape '
                     '(checkpoint vs model):')
        lines += [
            f'  {key}: {list(have)} vs {list(want)}'
            for key, have, want in mismatched[:SHOWN_KEYS]
        ]
        if len(mismatched) > SHOWN_KEYS:
            lines.append(f'  ... and {len(mismatched) - SHOWN_KEYS} more')
    lines += [f'  {m.strip()}' for m in other_errors[:SHOWN_KEYS]]
    lines.append(
        'Loading the rest would train with these tensors left at their '
        'initial values. Build the model the checkpoint was saved from (e.g. '
        'embed_dims, depth, patch_size, num_classes of the config), or remove '
        'these keys from the checkpoint on purpose.')
    return '\n'.join(lines)


@contextmanager
def strict_loading() -> Iterator[None]:
    """mmengine loads checkpoints with :func:`load_state_dict` inside; its
    own functions are back on leaving. Re-entrant (an inner use changes
    nothing).

    ``Runner.load_checkpoint`` / ``load_checkpoint`` and the ``Pretrained``
    initializer look the function up in ``mmengine.runner.checkpoint`` at call
    time, so replacing the module attribute covers ``load_from``, ``resume``
    and ``init_cfg``. ``CheckpointLoader.load_checkpoint`` is wrapped to
    remember the file name with (weak references to) the tensors it read;
    its errors are left as they are.
    """
    from mmengine.runner import checkpoint as ckpt_module
    from mmengine.runner.checkpoint import CheckpointLoader

    if ckpt_module.load_state_dict is load_state_dict:
        yield
        return
    read = CheckpointLoader.__dict__['load_checkpoint'].__func__

    def load_checkpoint(cls, filename, map_location=None, logger='current'):
        checkpoint = read(cls, filename, map_location, logger)
        _remember_read(filename, checkpoint)
        return checkpoint

    load_checkpoint.__doc__ = read.__doc__
    reading = classmethod(load_checkpoint)
    with mock.patch.object(ckpt_module, 'load_state_dict', load_state_dict), \
            mock.patch.object(CheckpointLoader, 'load_checkpoint', reading):
        yield
