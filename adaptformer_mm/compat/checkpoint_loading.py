"""Load mmengine checkpoints under torch >= 2.6 without unpickling arbitrary code.

mmengine 0.10.7 calls ``torch.load(filename)`` without ``weights_only``. Since
torch 2.6 that means ``weights_only=True``, which rejects the
``HistoryBuffer`` and numpy objects every mmengine checkpoint carries in its
``message_hub``: ``resume``, ``load_from`` and ``Pretrained`` init all fail with
"Unsupported global: mmengine.logging.history_buffer.HistoryBuffer".

Instead of turning ``weights_only`` off (which would execute any pickled code in
a downloaded file), we re-register mmengine's local-file loader to keep
``weights_only=True`` and allow exactly the types mmengine itself writes. A file
that needs anything else is refused with an error naming the file and the
global; ``ADAPTFORMER_MM_TRUST_CHECKPOINTS=1`` opts into full unpickling for
files the user trusts.
"""
import collections
import os
import os.path as osp
import pickle

import numpy as np
import torch

TRUST_ENV = 'ADAPTFORMER_MM_TRUST_CHECKPOINTS'


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


def safe_torch_load(filename: str, map_location=None):
    """``torch.load`` with ``weights_only=True`` plus mmengine's own types.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: the file is not a readable torch checkpoint (truncated,
            wrong format) or needs a global outside the allow-list; the
            message names the file.
    """
    filename = osp.expanduser(filename)
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
            raise RuntimeError(
                f'cannot read checkpoint {filename}: it is truncated or not a '
                f'torch checkpoint ({_reason(e)})') from e
        raise RuntimeError(
            f'refusing to load {filename}: it holds Python objects beyond '
            f'tensors and mmengine training state, and loading them could '
            f'execute code. If you trust this file, set {TRUST_ENV}=1. '
            f'(torch said: {_reason(e)})') from e
    except (RuntimeError, EOFError, OSError, ValueError, IndexError,
            KeyError) as e:
        # A text or random file fails deep inside the unpickler, e.g. with
        # IndexError('pop from empty list').
        raise RuntimeError(
            f'cannot read checkpoint {filename}: it is truncated or not a '
            f'torch checkpoint ({type(e).__name__}: {e})') from e


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


def patch_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader

    if CheckpointLoader._schemes.get('') is _load_from_local:
        return
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)


def _load_from_local(filename, map_location):
    return safe_torch_load(filename, map_location)
