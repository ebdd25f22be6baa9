"""One training step of a config's model on fake tensors: what autograd
saves, what the step holds at its peak and its FLOPs, without allocating the
model or a single activation.

The model is built with its weights on the ``meta`` device (the factories
that make weights, ``torch.empty`` / ``zeros`` / ``randn`` ..., are sent
there; small tensors a constructor reads, such as mmaction2's drop-path
``torch.linspace(...).item()``, stay real), then turned into
``FakeTensorMode`` tensors on the planned device. A fake tensor has a shape,
a dtype, a device and a storage of known size but no data, and runs every
operator through its meta kernel: a training forward of a ViT-g at
16 x 224^2 takes about a second and no memory.

:func:`record_step` runs ``model(inputs, samples, mode='loss')`` (the
recognizer's own loss path, as ``tools/benchmark.py`` runs it) and, with the
same code on real or fake tensors, records:

* **saved**: the bytes of the unique storages autograd packs for backward
  (``torch.autograd.graph.saved_tensors_hooks``) and still holds when the
  forward returns (a branch the loss does not use is freed with what it
  saved): everything the forward leaves alive but the loss, a checkpointed
  block's input too (``torch.utils.checkpoint`` saves it through the
  hooks); parameters, buffers and the input clips are not activations and
  are left out;
* **peak**: the most bytes those storages took at once, over the forward or
  the forward and backward (gradients included): a simulated
  ``torch.cuda.max_memory_allocated`` above the weights and the input;
* forward and backward FLOPs, fed to a ``FlopCounterMode`` with the
  benchmark's formulas (:class:`StorageLedger`);
* the attention kernels that ran.

Planning for a GPU without one: fake ``cuda`` tensors follow CUDA's autocast
policy (set through the autocast flags directly: ``torch.autocast('cuda')``
switches itself off where no GPU is present) and ``dropout``'s fused CUDA
path (a 1-byte mask). ``F.scaled_dot_product_attention`` cannot ask a missing
GPU which kernel it has, so :class:`GpuAttention` runs the kernel torch picks
on an Ampere or Hopper GPU: flash for fp16 / bf16 without a mask and a head
width of at most 256 (multiple of 8), memory-efficient otherwise. Both save
q, k, v, the output and a float32 logsumexp per query and head, never the
N x N weights. torch's autograd engine cannot run a backward on fake CUDA
tensors without a CUDA context, so the backward is simulated on the CPU
(:mod:`.memory` says how the two are combined).
"""
import functools
import logging
import sys
import traceback
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import Tensor, nn
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
from torch.multiprocessing.reductions import StorageWeakRef
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from adaptformer_mm.apis import build_on_meta
from adaptformer_mm.benchmark.input_shape import InputShape
from adaptformer_mm.benchmark.measure import _extra_flop_formulas

__all__ = [
    'GpuAttention', 'PlanningError', 'StepRecord', 'StorageLedger',
    'autocast_for', 'build_fake_model', 'fake_batch',
    'no_fake_tensors_cached', 'record_step', 'storage_key'
]


class PlanningError(ValueError):
    """A model the planner cannot run on fake tensors, or input it cannot
    plan; the message says why and what would work."""


# ------------------------------------------------------------- building
def _culprit(err: BaseException, method: str = '') -> str:
    """``Class.method (file:line)`` of the innermost module code in the
    traceback of ``err`` (``method`` narrows it, e.g. ``'__init__'``)."""
    found = None
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        owner = frame.f_locals.get('self')
        if isinstance(owner, nn.Module) and (
                not method or frame.f_code.co_name == method):
            found = (f'{type(owner).__name__}.{frame.f_code.co_name} '
                     f'({frame.f_code.co_filename}:{tb.tb_lineno})')
        tb = tb.tb_next
    if found is None:
        last = traceback.extract_tb(err.__traceback__)[-1:]
        found = (f'{last[0].name} ({last[0].filename}:{last[0].lineno})'
                 if last else 'unknown code')
    return found


@contextmanager
def _quiet_logs():
    """The planner builds models a run also builds: their summaries would
    repeat in the run's log."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_fake_model(model_cfg: dict, scope: str, device: str,
                     fake_mode: FakeTensorMode) -> nn.Module:
    """``model_cfg`` built in ``scope`` with fake weights on ``device``,
    in train mode (frozen modules stay in eval, as the backbones arrange).

    A model whose constructor needs real values from its weights is a
    :class:`PlanningError` naming the module."""
    cfg = Config(dict(model=model_cfg, default_scope=scope))
    try:
        with _quiet_logs():
            model = build_on_meta(cfg)
    except (RuntimeError, NotImplementedError) as err:
        raise PlanningError(
            f'the model does not build on the meta device: '
            f'{_culprit(err, "__init__")} reads the values of a tensor while '
            f'it builds ({str(err).splitlines()[0]}); the planner needs '
            'modules that only allocate weights in their constructors') \
            from None
    except (TypeError, KeyError, ValueError) as err:  # the config's own
        raise PlanningError(f'the model does not build: {err}') from None
    with fake_mode:
        model.to_empty(device=device)
    return model.train()


#: Packages whose module-level caches may see the planner's fake tensors.
_MODEL_PACKAGES = ('adaptformer_mm', 'mmaction', 'mmpretrain', 'mmcv')


def _function_caches() -> List[Any]:
    """``functools.lru_cache`` functions of the model packages' modules."""
    found = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split('.')[0] not in _MODEL_PACKAGES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, functools._lru_cache_wrapper):
                found[id(value)] = value
    return list(found.values())


@contextmanager
def no_fake_tensors_cached():
    """Empty every model-package ``lru_cache`` that grew in the block.

    Model code caches tensors by shape and device (mmaction2's Swin
    ``compute_mask``); one made in a fake step would come back, fake, to
    the real training that follows the plan (``tools/train.py``)."""
    caches = [(c, c.cache_info().currsize) for c in _function_caches()]
    try:
        yield
    finally:
        known = {id(c) for c, _ in caches}
        grown = [c for c, size in caches if c.cache_info().currsize > size]
        grown += [c for c in _function_caches() if id(c) not in known
                  and c.cache_info().currsize]
        for cache in grown:
            cache.cache_clear()


# ------------------------------------------------------------- inputs
def fake_batch(shape: InputShape, batch: int, num_classes: int, device: str,
               fake_mode: FakeTensorMode) -> Tuple[Tensor, list]:
    """``(inputs, data_samples)`` as the model takes them after its
    preprocessor (the layout of
    :func:`adaptformer_mm.benchmark.model.random_batch`), the inputs fake,
    every label 0 (``num_classes`` only bounds it)."""
    if shape.is_image:
        from mmpretrain.structures import DataSample
        views = ()
    else:
        from mmaction.structures import ActionDataSample as DataSample
        views = (1, )
    samples = [DataSample().set_gt_label(0) for _ in range(batch)]
    with fake_mode:
        inputs = torch.empty((batch, *views, *shape.dims), device=device)
        for sample in samples:
            sample.gt_label = sample.gt_label.to(device)
    return inputs, samples


# ------------------------------------------------------------- running
_VALUE_READS = (torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy)


class _NoValueReads(TorchFunctionMode):
    """A fake tensor has no values: reading them (the top-k accuracy that
    mmaction2's head logs beside the loss, via ``.numpy()``) gives zeros.
    Nothing autograd saves depends on a logged metric."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _VALUE_READS and isinstance(args[0], FakeTensor):
            tensor = args[0]
            kind = np.float32 if tensor.is_floating_point() else np.int64
            zeros = np.zeros(tuple(tensor.shape), dtype=kind)
            if func is torch.Tensor.numpy:
                return zeros
            return zeros.tolist() if func is torch.Tensor.tolist \
                else zeros.item()
        return func(*args, **(kwargs or {}))


_LOW_PRECISION = (torch.float16, torch.bfloat16)


class GpuAttention(TorchFunctionMode):
    """``F.scaled_dot_product_attention`` on fake CUDA tensors runs the fused
    kernel torch chooses on an Ampere / Hopper GPU (torch cannot query a GPU
    that is not there, and would fall back to the math path, which keeps
    the N x N attention weights):

    * flash (``_scaled_dot_product_flash_attention``): fp16 / bf16 (autocast
      included), no mask, equal head widths <= 256 and a multiple of 8;
    * memory-efficient (``_scaled_dot_product_efficient_attention``):
      otherwise, head width a multiple of 8 (4 in fp32);
    * torch's own (math) path: anything else.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            out = self._fused(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)

    @staticmethod
    def _fused(query, key, value, attn_mask=None, dropout_p=0.0,
               is_causal=False, scale=None, enable_gqa=False):
        if query.device.type != 'cuda' or enable_gqa:
            return None
        dtype = (torch.get_autocast_dtype('cuda')
                 if torch.is_autocast_enabled('cuda') else query.dtype)
        q, k, v = (t.to(dtype) for t in (query, key, value))
        width = q.shape[-1]
        same = k.shape[-1] == width and v.shape[-1] == width
        aten = torch.ops.aten
        if attn_mask is None and dtype in _LOW_PRECISION and same and \
                width <= 256 and width % 8 == 0:
            return aten._scaled_dot_product_flash_attention(
                q, k, v, dropout_p, is_causal, False, scale=scale)[0]
        if same and width % (8 if dtype in _LOW_PRECISION else 4) == 0:
            bias = None if attn_mask is None else attn_mask.to(dtype)
            grad = any(t.requires_grad for t in (query, key, value))
            return aten._scaled_dot_product_efficient_attention(
                q, k, v, bias, grad, dropout_p, is_causal, scale=scale)[0]
        return None


class _OpmathStatistics(TorchDispatchMode):
    """The meta kernels of layer and batch norm return their saved mean and
    inverse deviation in the input's dtype; the CPU and CUDA kernels keep
    them in float32 for fp16 / bf16 inputs, and so does this mode (on real
    tensors it changes nothing)."""

    _OPS = {
        torch.ops.aten.native_layer_norm.default: (1, 2),
        torch.ops.aten.native_batch_norm.default: (1, 2),
        torch.ops.aten._native_batch_norm_legit.default: (1, 2),
        torch.ops.aten._native_batch_norm_legit_functional.default: (1, 2),
    }

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        slots = self._OPS.get(func)
        if slots and args[0].dtype in _LOW_PRECISION:
            out = list(out)
            for i in slots:
                if out[i].dtype in _LOW_PRECISION:
                    out[i] = out[i].float()
            out = tuple(out)
        return out


@contextmanager
def autocast_for(device: str, dtype: Optional[torch.dtype]):
    """Autocast to ``dtype`` (None: off) for ``device``'s tensors. For
    ``'cuda'`` the flags are set directly, so that fake CUDA tensors follow
    CUDA's policy on a machine without a GPU."""
    if dtype is None:
        yield
        return
    if device != 'cuda':
        with torch.autocast(device, dtype=dtype):
            yield
        return
    enabled = torch.is_autocast_enabled('cuda')
    previous = torch.get_autocast_dtype('cuda')
    torch.set_autocast_enabled('cuda', True)
    torch.set_autocast_dtype('cuda', dtype)
    torch.autocast_increment_nesting()
    try:
        yield
    finally:
        if torch.autocast_decrement_nesting() == 0:
            torch.clear_autocast_cache()
        torch.set_autocast_enabled('cuda', enabled)
        torch.set_autocast_dtype('cuda', previous)


def _storage(tensor: Tensor):
    try:
        return tensor.untyped_storage()
    except (RuntimeError, NotImplementedError):  # no storage (sparse, ...)
        return None


def storage_key(tensor: Tensor) -> Optional[int]:
    """What identifies ``tensor``'s storage while it lives (views share it);
    None for a tensor without one."""
    storage = _storage(tensor)
    return None if storage is None else storage._cdata


_storage_expired = torch.UntypedStorage._expired


class StorageLedger(TorchDispatchMode):
    """Live bytes of the storages the operators of a block create (those
    in ``exclude`` aside) after each operator that allocated one
    (``timeline``: the live bytes only grow at those points, so its maximum
    is the peak), and the attention kernels run."""

    def __init__(self, exclude: set):
        super().__init__()
        self.exclude = exclude
        self.live: Dict[int, Tuple[StorageWeakRef, int]] = {}
        self.upper = 0  # live bytes, possibly counting freed storages
        self.timeline: List[int] = []
        self.kernels: Counter = Counter()
        # The benchmark's counter (its formulas and extra CPU attention
        # formula), fed here rather than entered: entered, its module
        # tracker hooks every module's inputs, and what the hooks keep would
        # count as the step's memory.
        self._flops = FlopCounterMode(display=False,
                                      custom_mapping=_extra_flop_formulas())

    @property
    def flops(self) -> int:
        """FLOPs of the operators run so far, as ``FlopCounterMode``
        counts them (:func:`adaptformer_mm.benchmark.measure.count_flops`)."""
        return self._flops.get_total_flops()

    @property
    def peak(self) -> int:
        return max(self.timeline, default=0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._flops._count_flops(func._overloadpacket, out, args, kwargs)
        name = func.__name__.split('.')[0]
        if 'backward' not in name and ('scaled_dot_product' in name
                                       or 'softmax' in name):
            self.kernels[name] += 1
        grew = False
        for item in tree_leaves(out):
            if isinstance(item, Tensor):
                grew |= self._add(item)
        if grew:
            self.timeline.append(self.live_bytes())
        return out

    def _add(self, tensor: Tensor) -> bool:
        storage = _storage(tensor)
        if storage is None or storage._cdata in self.exclude:
            return False
        key = storage._cdata
        entry = self.live.get(key)
        if entry is not None:
            if not _storage_expired(entry[0].cdata):
                return False  # a view or an in-place result
            self.upper -= entry[1]  # the address was freed and reused
        size = storage.nbytes()
        self.live[key] = (StorageWeakRef(storage), size)
        self.upper += size
        return True

    def live_bytes(self) -> int:
        expired = _storage_expired
        for key in [k for k, (ref, _) in self.live.items()
                    if expired(ref.cdata)]:
            self.upper -= self.live.pop(key)[1]
        return self.upper


@dataclass
class StepRecord:
    """What one training step (at ``batch``) holds, in bytes.

    ``timeline`` holds the live bytes of the storages the step created
    after each operator that allocated one (forward, then from index
    ``backward_start`` the backward when it ran); ``peak`` is its maximum.
    ``grads`` are the trainable parameters' gradients after backward (0
    without one); FLOPs are counted as ``FlopCounterMode`` counts them;
    ``kernels`` counts the attention operators that ran (by aten name)."""
    batch: int
    saved: int
    timeline: List[int]
    backward_start: int
    forward_flops: int
    backward_flops: int = 0
    grads: int = 0
    kernels: Dict[str, int] = field(default_factory=dict)

    @property
    def peak(self) -> int:
        return max(self.timeline, default=0)


def _training_loss(model: nn.Module, inputs: Tensor, samples: list,
                   device: str, amp: Optional[torch.dtype]) -> Tensor:
    """``model(inputs, samples, mode='loss')`` under autocast, then
    ``model.parse_losses`` outside it, as mmengine's ``train_step`` runs
    them (the data preprocessor is left out: ``inputs`` are what it
    returns)."""
    with autocast_for(device, amp):
        losses = model(inputs, samples, mode='loss')
    return model.parse_losses(losses)[0]


@contextmanager
def _fake_operators(inputs: Tensor, device: str):
    """What running on fake tensors needs (nothing on real ones): values
    read as zeros, the GPU's attention kernel, float32 norm statistics.
    An operator that needs real data becomes a :class:`PlanningError`
    naming the module that called it."""
    if not isinstance(inputs, FakeTensor):
        yield
        return
    attention = GpuAttention() if device == 'cuda' else nullcontext()
    try:
        with _NoValueReads(), attention, _OpmathStatistics():
            yield
    except PlanningError:
        raise
    except Exception as err:  # noqa: BLE001 (any operator may refuse)
        raise PlanningError(
            f'the training step does not run on fake tensors: '
            f'{_culprit(err)} needs real data ({type(err).__name__}: '
            f'{str(err).splitlines()[0] if str(err) else ""})') from None


def record_step(model: nn.Module, inputs: Tensor, samples: list,
                device: str, amp: Optional[torch.dtype],
                backward: bool = True) -> StepRecord:
    """Run ``model``'s training loss on ``(inputs, samples)`` (see
    :func:`_training_loss`) and its backward, under autocast to ``amp`` for
    ``device``, and record the bytes and FLOPs (see the module docstring).
    Works alike on real and fake tensors; on fake ones, call it under their
    ``FakeTensorMode``.

    The step starts without gradients, as mmengine's optimizer wrapper
    leaves it (``zero_grad`` sets them to None): any are dropped first."""
    model.zero_grad(set_to_none=True)
    kept = [*model.parameters(), *model.buffers(), inputs]
    exclude = {k for k in map(storage_key, kept) if k is not None}
    # Packed storages, weakly: a graph branch the loss does not use is
    # freed with what it saved, and its address may come back.
    packed: Dict[int, Tuple[StorageWeakRef, int]] = {}

    def pack(tensor):
        storage = _storage(tensor)
        if storage is not None and storage._cdata not in exclude:
            entry = packed.get(storage._cdata)
            if entry is None or _storage_expired(entry[0].cdata):
                packed[storage._cdata] = (StorageWeakRef(storage),
                                          storage.nbytes())
        return tensor

    ledger = StorageLedger(exclude)
    with _fake_operators(inputs, device), ledger:
        with torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
            loss = _training_loss(model, inputs, samples, device, amp)
        saved = sum(size for ref, size in packed.values()
                    if not _storage_expired(ref.cdata))
        start, forward_flops = len(ledger.timeline), ledger.flops
        if backward:
            loss.backward()
    record = StepRecord(batch=len(samples), saved=saved,
                        timeline=ledger.timeline, backward_start=start,
                        forward_flops=forward_flops,
                        backward_flops=ledger.flops - forward_flops,
                        kernels=dict(ledger.kernels))
    if backward:
        grads = {storage_key(p.grad): p.grad.untyped_storage().nbytes()
                 for p in model.parameters() if p.grad is not None}
        record.grads = sum(grads.values())
    return record


def _unpack(tensor):
    return tensor
