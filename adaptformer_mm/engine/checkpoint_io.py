"""Reading a checkpoint file: weights only, and errors that say what is wrong.

Every checkpoint this project reads goes through :func:`safe_torch_load`: the
inference API (:mod:`adaptformer_mm.apis.loading`), the converters
(:mod:`adaptformer_mm.models.convert`), ``TunableCheckpointHook``,
``tools/export_peft.py``, and mmengine's own local-file reads (``load_from``,
``resume``, ``Pretrained`` init), which the stack fix
:mod:`adaptformer_mm.compat.checkpoint_loading` routes here.

It reads with ``torch.load(weights_only=True)`` and allows exactly the Python
types mmengine itself writes into a checkpoint (``HistoryBuffer`` and numpy
scalars and arrays in ``message_hub``), so that loading a downloaded file
cannot execute code. ``ADAPTFORMER_MM_TRUST_CHECKPOINTS=1`` opts into full
unpickling for files the user trusts.

What goes wrong is told apart:

* not a path (a list, None, a number): ``TypeError`` naming the value
  (:func:`checkpoint_path`);
* no such file: ``FileNotFoundError`` naming the path;
* truncated, or not a torch checkpoint: :class:`CheckpointReadError`;
* a Python object beyond the allow-list: :class:`UntrustedCheckpointError`,
  naming the global and the opt-in.
"""
import collections
import os
import os.path as osp
import pickle

import numpy as np
import torch

__all__ = [
    'CheckpointReadError', 'TRUST_ENV', 'UntrustedCheckpointError',
    'checkpoint_path', 'safe_torch_load'
]

TRUST_ENV = 'ADAPTFORMER_MM_TRUST_CHECKPOINTS'


class CheckpointReadError(RuntimeError):
    """A file that is truncated or not a torch checkpoint."""


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint holding Python objects that loading could execute."""


def checkpoint_path(value) -> str:
    """``value`` as a path string, or a ``TypeError`` for anything that
    cannot name a file or URL (``pretrained=[0, 1, 1]``, ``None``, 3)."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f'a checkpoint must be a file path or URL (str), got '
                    f'{value!r} of type {type(value).__name__} (an '
                    'os.PathLike such as pathlib.Path works too)')


def _mmengine_safe_globals() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    numpy_types = [
        np.ndarray, np.dtype,
        type(np.dtype(np.float64)), type(np.dtype(np.float32)),
        type(np.dtype(np.int64)), type(np.dtype(np.int32)),
        type(np.dtype(np.bool_)),
        np.float64, np.float32, np.int64, np.int32, np.bool_,
    ]
    reconstruct = []
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            m = __import__(mod, fromlist=['_reconstruct', 'scalar'])
            reconstruct += [m._reconstruct, m.scalar]
        except (ImportError, AttributeError):
            pass
    return [HistoryBuffer, collections.OrderedDict, collections.defaultdict,
            (_history_buffer_getattr, 'builtins.getattr')
            ] + numpy_types + reconstruct


def _history_buffer_getattr(obj, name: str):
    """The only ``getattr`` an mmengine checkpoint needs.

    ``HistoryBuffer._statistics_methods`` pickles its functions as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``builtins.getattr``
    would let a crafted file reach arbitrary attributes, so this stand-in
    answers only public attributes of ``HistoryBuffer``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is not HistoryBuffer or name.startswith('_'):
        raise pickle.UnpicklingError(
            f'checkpoint asks for getattr({obj!r}, {name!r}); only public '
            'HistoryBuffer attributes are allowed')
    return getattr(HistoryBuffer, name)


def safe_torch_load(filename, map_location=None):
    """``torch.load`` with ``weights_only=True`` plus mmengine's own types.

    Args:
        filename: path of the file (str or os.PathLike; ``~`` expands).
        map_location: as for ``torch.load``.

    Raises:
        TypeError: ``filename`` is not a path.
        FileNotFoundError: the file does not exist (the path is named).
        CheckpointReadError: the file is truncated or not a torch
            checkpoint (the path is named).
        UntrustedCheckpointError: the file needs a global outside the
            allow-list (the path, the global and the opt-in are named).
    """
    filename = osp.expanduser(checkpoint_path(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if os.environ.get(TRUST_ENV) == '1':
        return torch.load(filename, map_location=map_location,
                          weights_only=False)
    try:
        with torch.serialization.safe_globals(_mmengine_safe_globals()):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        if not _is_refused_object(e):
            raise CheckpointReadError(_unreadable(filename, _reason(e))) from e
        raise UntrustedCheckpointError(
            f'refusing to load {filename}: it holds Python objects beyond '
            f'tensors and mmengine training state, and loading them could '
            f'execute code. If you trust this file, set {TRUST_ENV}=1. '
            f'(torch said: {_reason(e)})') from e
    except PermissionError:
        raise  # names the file; not a matter of its content
    except (RuntimeError, EOFError, OSError, ValueError, IndexError,
            KeyError) as e:
        # A text or random file fails deep inside the unpickler, e.g. with
        # IndexError('pop from empty list').
        raise CheckpointReadError(
            _unreadable(filename, f'{type(e).__name__}: {e}')) from e


def _unreadable(filename: str, reason: str) -> str:
    return (f'cannot read checkpoint {filename}: it is truncated or not a '
            f'torch checkpoint ({reason})')


def _is_refused_object(error: Exception) -> bool:
    """True when the weights-only unpickler stopped at a Python object it
    does not allow (as opposed to bytes that are not a pickle at all)."""
    text = str(error).lower()
    return any(k in text for k in ('global', 'historybuffer', 'reduce'))


def _reason(error: Exception) -> str:
    """The line of torch's long weights-only message that says what failed."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if 'WeightsUnpickler error' in line:
            detail = line.split('WeightsUnpickler error:', 1)[1].strip()
            if not detail and i + 1 < len(lines):
                detail = lines[i + 1]
            return detail or line
    return lines[0] if lines else type(error).__name__
