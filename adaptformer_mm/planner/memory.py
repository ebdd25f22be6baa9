"""The memory and compute plan of a config's training step, per GPU.

:func:`plan_config` builds the config's model on fake tensors
(:mod:`.fake_step`) and adds up what a training step holds at its peak:

* **weights and buffers** as stored (float32: the package has no option to
  store frozen weights in bf16; under AMP, autocast casts a bf16 copy of each
  weight where it is used, and the copies backward needs are part of the
  activations' fixed bytes);
* **optimizer state**, measured by two steps of the config's optimizer
  (``optim_wrapper.optimizer``) on a stand-in parameter: AdamW / Adam keep
  two moments per trainable value, SGD one momentum when ``momentum > 0``,
  none otherwise; and the step's **workspace** (the temporaries of torch's
  multi-tensor update on a GPU). There are no separate fp32 master weights:
  ``torch.autocast`` (mmengine's ``AmpOptimWrapper``) keeps the weights in
  float32, and they are the master copy;
* the **input clips** (float32, as the data preprocessor returns them);
* the **step's working set**: activations saved for backward, the
  gradients of the trainable parameters (float32, created in backward, freed
  after the optimizer step; the storages they live in, which can be larger:
  a gradient that is a slice of another keeps all of it) and the temporaries
  of forward and backward, at their simulated peak.

Each batch-dependent figure is ``fixed + per_clip * batch`` (:class:`PerClip`),
read from fake steps at batches 2 and 4 (2: a BatchNorm head cannot train on
one clip); activations of these models are exactly linear in the batch.

For a CUDA GPU (``device='cuda'``) the forward runs on fake CUDA tensors:
CUDA's autocast policy, the GPU's attention kernel, fused dropout. torch's
autograd engine needs a CUDA context to run a backward, so the backward's
extra (gradients and temporaries above the saved activations) is read from
the same step on fake CPU tensors and added to the CUDA forward's saved
activations.

**Margin.** What fits is judged against ``0.9 * (memory - 0.5 GiB)``: the
CUDA context (driver, kernels, cuBLAS / cuDNN handles) takes 0.3-0.6 GiB
outside PyTorch's allocator on current drivers, and the caching allocator
hands out at most ~90% of what it reserves in a long run (2 MiB blocks split
by size class, fragmentation between steps, cuBLAS' per-stream workspace and
the attention kernels' scratch). The planner's figures are tensor bytes: what
``torch.cuda.max_memory_allocated`` reports, not ``nvidia-smi``. On the CPU
(``device='cpu'``) there is no context, and the 10% stays for the heap.
"""
import copy
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

from adaptformer_mm.peft import summarize_parameters
from adaptformer_mm.benchmark.model import (AMP_DTYPES, benchmark_model_cfg,
                                            num_classes)
from adaptformer_mm.benchmark.input_shape import config_input_shape, model_kind
from adaptformer_mm.datasets.pipeline import unwrap_dataset_cfg
from .fake_step import (PlanningError, StepRecord, StorageLedger,
                        build_fake_model, fake_batch, no_fake_tensors_cached,
                        record_step)

__all__ = [
    'ALLOCATOR_MARGIN', 'CUDA_CONTEXT_BYTES', 'DEVICES', 'Envelope',
    'MemoryPlan', 'PerClip', 'config_amp', 'config_batch', 'parse_memory',
    'plan_config',
    'usable_bytes'
]

GIB = 2**30
#: Share of the memory left for the allocator's fragmentation and the
#: libraries' workspaces (see the module docstring).
ALLOCATOR_MARGIN = 0.10
#: Memory the CUDA context takes outside PyTorch's allocator.
CUDA_CONTEXT_BYTES = GIB // 2
#: The batches the fake steps run at.
PROBE_BATCHES = (2, 4)
#: The devices a plan is for.
DEVICES = ('cuda', 'cpu')

_UNITS = {'': None, 'm': 2**20, 'mb': 2**20, 'mib': 2**20, 'g': GIB,
          'gb': GIB, 'gib': GIB, 't': 2**40, 'tb': 2**40, 'tib': 2**40}
_MEMORY_FORMS = '24G, 24GB, 24GiB, 80000M, 80000MiB, 1T'


def parse_memory(text: str) -> int:
    """Bytes of a memory size: a number and a unit, ``M``/``MB``/``MiB``,
    ``G``/``GB``/``GiB`` or ``T``/``TB``/``TiB``, all binary (a "24 GB"
    card holds 24 GiB, which is how GPU makers and ``nvidia-smi`` count).
    Anything else is a ``ValueError`` naming the valid forms."""
    match = re.fullmatch(r'\s*(\d+(?:\.\d*)?)\s*([a-zA-Z]*)\s*', str(text))
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if unit is None or float(match.group(1)) <= 0:
        raise ValueError(f'--memory {text!r} is not a memory size; valid '
                         f'forms: {_MEMORY_FORMS} (binary units: G = GB = '
                         'GiB = 2^30 bytes)')
    return int(float(match.group(1)) * unit)


def usable_bytes(memory: int, device: str) -> int:
    """What a step may take of ``memory``: ``0.9 * (memory - 0.5 GiB)`` on a
    GPU, ``0.9 * memory`` on the CPU (module docstring, "Margin")."""
    context = CUDA_CONTEXT_BYTES if device == 'cuda' else 0
    return max(0, int((memory - context) * (1 - ALLOCATOR_MARGIN)))


def config_amp(cfg: Config) -> str:
    """The autocast a config trains with: ``'bf16'`` / ``'fp16'`` for an
    ``AmpOptimWrapper`` (mmengine's default dtype is float16), else
    ``'none'``."""
    wrapper = cfg.get('optim_wrapper') or {}
    kind = wrapper.get('type', '')
    kind = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    if kind.split('.')[-1] != 'AmpOptimWrapper':
        return 'none'
    dtype = str(wrapper.get('dtype') or 'float16')
    return 'bf16' if dtype in ('bfloat16', 'bf16', 'torch.bfloat16') \
        else 'fp16'


def config_batch(cfg: Config) -> int:
    """Clips per GPU in a training step: ``train_dataloader.batch_size``
    (8 when unset) times the ``num_repeats`` of a ``RepeatedAugDataset``
    wrapper (each decoded video gives that many clips)."""
    loader = cfg.get('train_dataloader') or {}
    clips = int(loader.get('batch_size', 8))
    _, chain = unwrap_dataset_cfg(dict(loader.get('dataset') or {}))
    for level in chain:
        if level.type == 'RepeatedAugDataset':
            clips *= int(level.dataset.get('num_repeats', 2))
    return clips


@dataclass(frozen=True)
class PerClip:
    """``fixed + per_clip * batch`` bytes."""
    fixed: float
    per_clip: float

    def at(self, batch: float) -> float:
        return self.fixed + self.per_clip * batch

    @classmethod
    def fit(cls, a: Tuple[int, float], b: Tuple[int, float]) -> 'PerClip':
        """The line through ``(batch, value)`` points ``a`` and ``b``."""
        per_clip = (b[1] - a[1]) / (b[0] - a[0])
        return cls(a[1] - per_clip * a[0], per_clip)


@dataclass(frozen=True)
class Envelope:
    """The most of several :class:`PerClip` lines: a step's peak at any
    batch. Each operator of the step holds ``fixed + per_clip * batch``
    bytes after it runs; which one holds the most changes with the batch
    (gradients of a full fine-tuning peak at the end of backward for a
    small batch, activations at its start for a large one), so the peak is
    the upper envelope of one line per operator, kept here for batch >= 1.
    """
    lines: Tuple[PerClip, ...]

    def at(self, batch: float) -> float:
        return max(line.at(batch) for line in self.lines)

    def per_clip_at(self, batch: float) -> float:
        """What one more clip adds at ``batch`` (the slope there)."""
        return max(self.lines, key=lambda line: (line.at(batch),
                                                 line.per_clip)).per_clip

    @classmethod
    def of(cls, lines) -> 'Envelope':
        """The upper envelope of ``lines`` over batch >= 1."""
        hull: List[PerClip] = []
        for line in sorted(set(lines), key=lambda l: (l.per_clip, l.fixed)):
            while hull and hull[-1].per_clip == line.per_clip:
                hull.pop()  # same slope, lower: never on top
            while len(hull) >= 2 and _below(hull[-2], hull[-1], line):
                hull.pop()
            hull.append(line)
        while len(hull) >= 2 and hull[1].at(1) >= hull[0].at(1):
            hull.pop(0)  # on top only below batch 1
        return cls(tuple(hull))


def _below(a: PerClip, b: PerClip, c: PerClip) -> bool:
    """Whether ``b`` (slope between ``a``'s and ``c``'s) is nowhere above
    both: at the batch where ``a`` and ``c`` cross it is not higher."""
    cross = (a.fixed - c.fixed) / (c.per_clip - a.per_clip)
    return b.at(cross) <= a.at(cross)


@dataclass
class MemoryPlan:
    """A training step's memory and compute, per GPU (or CPU process).

    Bytes are tensor bytes; ``saved`` is a :class:`PerClip` line and
    ``working_set`` an :class:`Envelope` of lines; FLOPs are per clip (an
    image for image models).
    See the module docstring for what each item holds.
    """
    config: str
    device: str
    amp: str
    input_shape: List[int]
    batch: int
    with_cp: bool
    frozen_params: int
    trainable_params: int
    weight_bytes: int
    grad_bytes: int
    optimizer: str
    optimizer_state_bytes: int
    optimizer_step_bytes: int
    input_bytes_per_clip: int
    saved: PerClip
    working_set: Envelope
    forward_flops_per_clip: float
    backward_flops_per_clip: float
    attention: str
    kernels: Dict[str, int]
    memory_bytes: int
    peak_tflops: float
    notes: List[str] = field(default_factory=list)

    @property
    def usable_bytes(self) -> int:
        return usable_bytes(self.memory_bytes, self.device)

    @property
    def resident_bytes(self) -> int:
        """Held through the whole run: weights and optimizer state."""
        return self.weight_bytes + self.optimizer_state_bytes

    def total_bytes(self, batch: int) -> float:
        """Peak tensor bytes of a step at ``batch``: the resident state and
        the input, plus the larger of the forward / backward working set and
        the optimizer step's (gradients and its workspace)."""
        return (self.resident_bytes + self.input_bytes_per_clip * batch +
                max(self.working_set.at(batch),
                    self.grad_bytes + self.optimizer_step_bytes))

    def per_clip_bytes(self, batch: Optional[int] = None) -> float:
        """What one more clip adds to :meth:`total_bytes` at ``batch``
        (default: the plan's)."""
        batch = self.batch if batch is None else batch
        return self.input_bytes_per_clip + \
            self.working_set.per_clip_at(batch)

    def largest_batch(self) -> int:
        """The largest batch whose :meth:`total_bytes` fits
        :attr:`usable_bytes` (0: not even one clip)."""
        room = self.usable_bytes - self.resident_bytes
        limits = [PerClip(self.grad_bytes + self.optimizer_step_bytes, 0)]
        limits += list(self.working_set.lines)
        largest = math.inf
        for line in limits:
            slope = line.per_clip + self.input_bytes_per_clip
            if slope <= 0:
                if line.fixed > room:
                    return 0
                continue
            largest = min(largest, (room - line.fixed) / slope)
        return max(0, int(math.floor(largest)))

    @property
    def fits(self) -> bool:
        return self.total_bytes(self.batch) <= self.usable_bytes

    @property
    def train_flops_per_clip(self) -> float:
        return self.forward_flops_per_clip + self.backward_flops_per_clip

    def clips_per_s(self, utilization: float = 1.0) -> float:
        """Clips per second at ``utilization`` of :attr:`peak_tflops`."""
        return self.peak_tflops * 1e12 * utilization / \
            self.train_flops_per_clip

    def to_dict(self) -> dict:
        """The plan and the figures derived from it, JSON-ready."""
        out = asdict(self)
        out.update(
            usable_bytes=self.usable_bytes,
            resident_bytes=self.resident_bytes,
            total_bytes=self.total_bytes(self.batch),
            per_clip_bytes=self.per_clip_bytes(),
            working_set_bytes=self.working_set.at(self.batch),
            largest_batch=self.largest_batch(),
            fits=self.fits,
            train_flops_per_clip=self.train_flops_per_clip,
            clips_per_s_at_100=self.clips_per_s(1.0),
            clips_per_s_at_50=self.clips_per_s(0.5),
            margin=dict(allocator=ALLOCATOR_MARGIN,
                        cuda_context_bytes=(CUDA_CONTEXT_BYTES
                                            if self.device == 'cuda' else 0)))
        return out


# ------------------------------------------------------------ optimizer
def optimizer_cfg(cfg: Config) -> dict:
    """``optim_wrapper.optimizer`` (AdamW when the config names none, as the
    benchmark assumes)."""
    return copy.deepcopy(dict((cfg.get('optim_wrapper') or {}).get(
        'optimizer') or dict(type='AdamW', lr=1e-3)))


def optimizer_costs(cfg: Config, device: str) -> Tuple[str, float, float]:
    """``(type, state bytes, step workspace bytes)`` per trainable value of
    the config's optimizer, measured by two steps on a stand-in parameter
    (the state appears at the first step; the workspace is the most the
    second step allocates). For a GPU the multi-tensor (``foreach``) update
    torch uses there is asked for; the CPU default is the per-tensor one."""
    from mmengine.registry import OPTIMIZERS
    opt_cfg = optimizer_cfg(cfg)
    name = str(opt_cfg.get('type'))
    probe = nn.Parameter(torch.zeros(64, 64))
    probe.grad = torch.full_like(probe, 1e-3)
    built = dict(opt_cfg, params=[probe])
    try:
        optimizer = OPTIMIZERS.build(built)
        if device == 'cuda' and 'foreach' in optimizer.defaults and \
                opt_cfg.get('foreach') is None:
            optimizer = OPTIMIZERS.build(dict(built, foreach=True))
        optimizer.step()
    except (KeyError, TypeError) as err:
        raise PlanningError(
            f'optim_wrapper.optimizer.type={name!r} cannot be measured: '
            f'{err}') from None
    ledger = StorageLedger({probe.untyped_storage()._cdata,
                            probe.grad.untyped_storage()._cdata})
    with ledger:
        optimizer.step()
    state = sum(v.untyped_storage().nbytes()
                for v in optimizer.state[probe].values()
                if torch.is_tensor(v) and v.shape == probe.shape)
    return name, state / probe.numel(), ledger.peak / probe.numel()


# ---------------------------------------------------------------- plan
_KERNELS = {
    '_scaled_dot_product_flash_attention':
    'sdpa, flash kernel (saves q, k, v, out, logsumexp)',
    '_scaled_dot_product_efficient_attention':
    'sdpa, memory-efficient kernel (saves q, k, v, out, logsumexp)',
    '_scaled_dot_product_flash_attention_for_cpu':
    'sdpa, CPU flash kernel (saves q, k, v, out, logsumexp)',
    '_scaled_dot_product_cudnn_attention':
    'sdpa, cuDNN kernel (saves q, k, v, out, logsumexp)',
    '_softmax':
    'eager softmax(QK^T)V (saves the N x N attention weights)',
    '_safe_softmax':
    'sdpa, math path (saves the N x N attention weights)',
}


def attention_summary(kernels: Dict[str, int]) -> str:
    """The attention kernels that ran, in words, with their counts."""
    named = [f'{_KERNELS[k]} x{n}' for k, n in sorted(kernels.items())
             if k in _KERNELS]
    return '; '.join(named) or 'no attention kernel ran'


def _scope(cfg: Config, model_cfg: dict) -> str:
    default = 'mmaction' if model_kind(model_cfg) == 'video' else \
        'mmpretrain'
    return cfg.get('default_scope', default)


def _steps(model_cfg: dict, scope: str, shape, device: str,
           amp: Optional[torch.dtype], backward: bool):
    """Records at :data:`PROBE_BATCHES`, the model built once on fake
    tensors; the model too.

    A model that builds something on its first call and keeps it (Swin's
    shifted-window masks) runs more operators in the first step: then the
    first batch is recorded again, so that both records run the same
    operators."""
    fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
    classes = num_classes(model_cfg)

    def step(batch):
        inputs, samples = fake_batch(shape, batch, classes, device, fake_mode)
        with fake_mode:
            return record_step(model, inputs, samples, device, amp,
                               backward=backward)

    with torch.random.fork_rng(devices=[]), no_fake_tensors_cached():
        model = build_fake_model(model_cfg, scope, device, fake_mode)
        first, second = (step(batch) for batch in PROBE_BATCHES)
        if len(first.timeline) != len(second.timeline):
            first = step(PROBE_BATCHES[0])
    return model, [first, second]


def _line(records: List[StepRecord], key: str) -> PerClip:
    return PerClip.fit(*[(r.batch, getattr(r, key)) for r in records])


def _event_lines(records: List[StepRecord], start: int = 0,
                 shift: PerClip = PerClip(0, 0)) -> List[PerClip]:
    """One line per allocating operator from ``start`` on (the same
    operators run at either batch), raised by ``shift``."""
    small, large = records
    if len(small.timeline) != len(large.timeline) or \
            small.backward_start != large.backward_start:
        raise PlanningError(
            f'the training step runs other operators at batch '
            f'{large.batch} than at batch {small.batch}: its memory cannot '
            'be read as a line per clip')
    return [
        PerClip(line.fixed + shift.fixed, line.per_clip + shift.per_clip)
        for line in (PerClip.fit((small.batch, a), (large.batch, b))
                     for a, b in zip(small.timeline[start:],
                                     large.timeline[start:]))]


def plan_config(cfg: Config,
                batch: Optional[int] = None,
                frames: Optional[int] = None,
                size: Optional[int] = None,
                amp: Optional[str] = None,
                with_cp: bool = False,
                device: str = 'cuda',
                memory: int = 80 * GIB,
                peak_tflops: float = 989.0) -> MemoryPlan:
    """Plan a training step of ``cfg``'s model (see the module docstring).

    Args:
        cfg: the config (``--cfg-options`` merged).
        batch: clips per GPU (default: :func:`config_batch`).
        frames, size: input frames and height = width (default: the
            config's, as :func:`~adaptformer_mm.benchmark.input_shape.
            config_input_shape` reads them).
        amp: ``'none'``, ``'bf16'`` or ``'fp16'`` autocast (default: the
            config's, :func:`config_amp`).
        with_cp: activation checkpointing of the backbone's blocks
            (``model.backbone.with_cp``).
        device: ``'cuda'`` (a GPU, default) or ``'cpu'``.
        memory: bytes of the device's memory.
        peak_tflops: the device's peak, for clips/s (989: an H100 SXM's
            dense bf16).
    """
    if device not in DEVICES:
        raise PlanningError(f'device {device!r}; valid: {DEVICES}')
    amp = config_amp(cfg) if amp is None else amp
    if amp not in AMP_DTYPES:
        raise PlanningError(f'--amp {amp!r}; valid: {sorted(AMP_DTYPES)}')
    if batch is None:
        batch = config_batch(cfg)
    if batch < 1:
        raise PlanningError(f'--batch {batch}: must be >= 1')
    shape = config_input_shape(cfg, frames, size)
    model_cfg = benchmark_model_cfg(cfg, shape)
    if with_cp:
        model_cfg['backbone']['with_cp'] = True
    scope = _scope(cfg, model_cfg)
    dtype = AMP_DTYPES[amp]

    cpu_model, cpu = _steps(model_cfg, scope, shape, 'cpu', dtype,
                            backward=True)
    saved, kernels = _line(cpu, 'saved'), cpu[0].kernels
    lines = _event_lines(cpu)
    if device == 'cuda':
        _, gpu = _steps(model_cfg, scope, shape, 'cuda', dtype,
                        backward=False)
        kernels = gpu[0].kernels
        gpu_saved = _line(gpu, 'saved')
        # The GPU forward, then the CPU backward with the GPU's saved bytes
        # in place of the CPU's (an upper bound: backward frees them).
        lines = _event_lines(gpu) + _event_lines(
            cpu, cpu[0].backward_start,
            PerClip(gpu_saved.fixed - saved.fixed,
                    gpu_saved.per_clip - saved.per_clip))
        saved = gpu_saved

    params = summarize_parameters(cpu_model)
    weights = {p.untyped_storage()._cdata: p.untyped_storage().nbytes()
               for p in [*cpu_model.parameters(), *cpu_model.buffers()]}
    trainable = [p for p in cpu_model.parameters() if p.requires_grad]
    opt_name, state_per_value, step_per_value = optimizer_costs(cfg, device)
    trainable_values = sum(p.numel() for p in trainable)

    notes = [
        'frozen weights are stored in float32: the package has no option to '
        'keep them in bf16 (autocast casts a copy where each is used)',
    ]
    if amp != 'none':
        notes.append('no separate fp32 master weights: autocast keeps the '
                     'weights in float32')
    if cfg.get('strategy') is not None:
        notes.append(f'{cfg.strategy.get("type")}: planned as one GPU '
                     'holding the whole model (the project wraps the model as '
                     'one FSDP unit, gathered for the step); sharding saves '
                     'resting weights and optimizer state only')
    return MemoryPlan(
        config=cfg.filename or '(text)',
        device=device,
        amp=amp,
        input_shape=list(shape.dims),
        batch=batch,
        with_cp=bool(model_cfg['backbone'].get('with_cp', False)),
        frozen_params=params.total - params.trainable,
        trainable_params=params.trainable,
        weight_bytes=sum(weights.values()),
        grad_bytes=cpu[1].grads,
        optimizer=opt_name,
        optimizer_state_bytes=int(state_per_value * trainable_values),
        optimizer_step_bytes=int(step_per_value * trainable_values),
        input_bytes_per_clip=4 * math.prod(shape.dims),
        saved=saved,
        working_set=Envelope.of(lines),
        forward_flops_per_clip=cpu[1].forward_flops / cpu[1].batch,
        backward_flops_per_clip=cpu[1].backward_flops / cpu[1].batch,
        attention=attention_summary(kernels),
        kernels=kernels,
        memory_bytes=int(memory),
        peak_tflops=float(peak_tflops),
        notes=notes)
