"""Throughput of a config's model (``tools/benchmark.py``): a video
recognizer (``Recognizer3D``) or an image classifier (``ImageClassifier``).

:func:`run_benchmark`: one training step (forward, backward, optimizer step
on the trainable parameters only) and one inference forward of the config's
model on random inputs of the config's shape: clips/s (for an image model a
"clip" is one image), peak memory, FLOPs counted by
``torch.utils.flop_counter.FlopCounterMode`` and the TFLOP/s that gives.
Optionally the same for the stock mmaction2 / mmpretrain backbone the
config's extends (``stock_backbone``: ``VisionTransformer``,
``SwinTransformer3D``, ``SwinTransformer``) at the same size, with its stock
attention and every parameter training, for a ratio.

This module runs one model; the input shape comes from
:mod:`adaptformer_mm.benchmark.input_shape`, the measuring tools (device, peak
memory, FLOPs, timing) from :mod:`adaptformer_mm.benchmark.measure`, and the data
path has its own module, :mod:`adaptformer_mm.benchmark.data`.

Inputs go straight into ``model(inputs, data_samples, mode=...)``: the data
preprocessor (uint8 -> normalised float) is skipped, as random normal
tensors already look normalised, and the data path is measured on its own.
"""
import copy
import functools
import inspect
from contextlib import contextmanager, nullcontext
from typing import Optional

import torch
from mmengine.config import Config
from torch import nn

from adaptformer_mm.apis import build_model
from adaptformer_mm.peft import summarize_parameters
from .input_shape import InputShape, config_input_shape, model_kind
from .measure import (PeakMemory, count_flops, device_name,
                      release_freed_memory, resolve_device, timed)

AMP_DTYPES = {'none': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


# ---------------------------------------------------------------- models
#: Per kind of model (:func:`~.input_shape.model_kind`): its registry scope
#: and the key of its head.
_KINDS = {
    'video': dict(scope='mmaction', head='cls_head'),
    'image': dict(scope='mmpretrain', head='head'),
}


def backbone_class(model_cfg: dict) -> type:
    """The class a recognizer's ``backbone.type`` names, from the registry
    of its kind (mmaction2 or mmpretrain; a scope prefix is honoured)."""
    if model_kind(model_cfg) == 'video':
        from mmaction.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    name = model_cfg['backbone']['type']
    cls = MODELS.get(name) if isinstance(name, str) else name
    if cls is None:
        raise KeyError(f'backbone.type={name!r} is not a registered '
                       f'{MODELS.scope} model')
    return cls


def stock_class(cls: type) -> type:
    """The stock mmaction2 / mmpretrain class ``cls`` extends
    (``stock_backbone`` of the tunable backbones); a stock class itself."""
    return getattr(cls, 'stock_backbone', cls)


def _stock_params(cls: type) -> set:
    return set(inspect.signature(stock_class(cls).__init__).parameters)


def benchmark_model_cfg(cfg: Config, shape: InputShape) -> dict:
    """``cfg.model`` ready to build for a benchmark: no pretrained weights
    (``init_cfg`` / ``pretrained`` dropped), the backbone built for exactly
    ``shape`` where its stock class takes the input size (``num_frames``,
    ``img_size``: the ViTs, mmpretrain's Swin; ``t_size`` /
    ``input_resolution``: UniFormerV2), so that no position table is
    resized per call and the stock model, whose table is fixed, accepts it.
    Video Swin takes any clip: nothing is set.
    """
    model = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                          else dict(cfg.model))
    kind = model_kind(model)
    backbone = model.get('backbone')
    head = _KINDS[kind]['head']
    if not backbone or head not in model:
        raise KeyError(f'{cfg.filename}: model needs `backbone` and '
                       f'`{head}` for a benchmark')
    takes = _stock_params(backbone_class(model))
    backbone.pop('init_cfg', None)
    backbone.pop('pretrained', None)
    if 'num_frames' in takes and shape.frames is not None:
        backbone['num_frames'] = shape.frames
    if 't_size' in takes and shape.frames is not None:  # UniFormerV2
        backbone['t_size'] = shape.frames
    if 'input_resolution' in takes:  # UniFormerV2: square frames
        if shape.height != shape.width:
            raise ValueError(
                f'input {shape.height}x{shape.width}: UniFormerV2 takes '
                'square frames (input_resolution is one int)')
        backbone['input_resolution'] = shape.height
    if 'img_size' in takes:
        if shape.height == shape.width:
            backbone['img_size'] = shape.height
        elif kind == 'video':
            raise ValueError(
                f'input {shape.height}x{shape.width}: the video ViT '
                'backbones take square clips (img_size is one int)')
        else:
            backbone['img_size'] = (shape.height, shape.width)
    model.pop('init_cfg', None)
    return model


def stock_model_cfg(model_cfg: dict) -> dict:
    """The same model on the stock mmaction2 / mmpretrain class its backbone
    extends (``stock_backbone``: ``VisionTransformer``,
    ``SwinTransformer3D``, ``SwinTransformer``): the arguments that class
    takes (widths, depth, heads, patch, windows, ...), our own (tuning,
    adapters, prompts, ...) dropped; stock attention, every parameter
    trains; the same neck and head."""
    kind = model_kind(model_cfg)
    stock = stock_class(backbone_class(model_cfg))
    takes = _stock_params(stock)
    model = copy.deepcopy(model_cfg)
    backbone = {
        k: v for k, v in model['backbone'].items()
        if k in takes and k not in ('init_cfg', 'pretrained')
    }
    backbone['type'] = f'{_KINDS[kind]["scope"]}.{stock.__name__}'
    model['backbone'] = backbone
    return model


def num_classes(model_cfg: dict) -> int:
    return int(model_cfg[_KINDS[model_kind(model_cfg)]['head']]
               ['num_classes'])


def build_optimizer(cfg: Config, model: nn.Module) -> torch.optim.Optimizer:
    """The config's optimizer (``optim_wrapper.optimizer``) over the
    trainable parameters only (AdamW when the config names none).

    Parameter groups (``paramwise_cfg``) are left out: they change learning
    rates and decay, not the cost of a step.
    """
    from mmengine.registry import OPTIMIZERS
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError('no parameter of the model trains: check the '
                         'backbone `tuning` and the head')
    opt_cfg = dict((cfg.get('optim_wrapper') or {}).get('optimizer') or
                   dict(type='AdamW', lr=1e-3))
    opt_cfg = copy.deepcopy(opt_cfg)
    try:
        return OPTIMIZERS.build(dict(opt_cfg, params=params))
    except KeyError as err:
        raise KeyError(f'optim_wrapper.optimizer.type={opt_cfg.get("type")!r}'
                       f' is not a registered optimizer: {err}') from err


# ---------------------------------------------------------------- one run
def _autocast(device: torch.device, amp: str):
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def random_batch(shape: InputShape, batch: int, num_classes: int,
                 device: torch.device, seed: int = 0):
    """``(inputs, data_samples)`` as the model takes them after its
    preprocessor: ``(B, 1 view, C, T, H, W)`` floats for ``Recognizer3D``
    (``(B, C, H, W)`` for ``ImageClassifier``, ``shape.frames`` None) and
    labelled samples."""
    if shape.is_image:
        from mmpretrain.structures import DataSample
        views = ()
    else:
        from mmaction.structures import ActionDataSample as DataSample
        views = (1, )
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn((batch, *views, *shape.dims),
                         generator=gen).to(device)
    labels = torch.randint(num_classes, (batch, ), generator=gen)
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    for sample in samples:
        sample.gt_label = sample.gt_label.to(device)
    return inputs, samples


def measure_recognizer(name: str, model_cfg: dict, cfg: Config,
                       shape: InputShape, batch: int, steps: int,
                       warmup: int, amp: str, device: torch.device,
                       scope: str = 'mmaction', flops: bool = True,
                       compile_backend: Optional[str] = None) -> dict:
    """Training step and inference figures of one recognizer.

    Returns a dict of ``name``, ``backbone``, ``compile`` (the backend or
    ``None``), parameter counts and ``train_*`` / ``infer_*`` figures (see
    :func:`run_benchmark`); on a CUDA out-of-memory, ``error='out of
    memory'`` instead of the figures. ``flops=False`` skips the two counted
    (untimed) calls.

    ``compile_backend`` wraps the whole training step (forward, backward,
    optimizer step: what mmengine's ``compile`` option compiles as the
    Runner's ``train_step``) and the inference call in ``torch.compile``;
    compilation happens in the warmup steps, which must then be >= 1. FLOPs
    are counted on the uncompiled functions (same arithmetic).
    """
    classes = num_classes(model_cfg)
    result = dict(name=name, backbone=model_cfg['backbone']['type'],
                  compile=compile_backend)
    compiled = (functools.partial(torch.compile, backend=compile_backend)
                if compile_backend else (lambda fn: fn))
    scaler = torch.amp.GradScaler(device.type, enabled=amp == 'fp16')
    memory = PeakMemory(device)
    model = optimizer = inputs = samples = None
    try:
        with memory:
            model = build_model(
                Config(dict(model=model_cfg, default_scope=scope)), device)
            params = summarize_parameters(model)
            result['trainable_params'] = params.trainable
            result['total_params'] = params.total
            optimizer = build_optimizer(cfg, model)
            inputs, samples = random_batch(shape, batch, classes, device)
            model.train()

            def train_step():
                with _autocast(device, amp):
                    losses = model(inputs, samples, mode='loss')
                loss, _ = model.parse_losses(losses)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()

            train_s = timed(compiled(train_step), steps, warmup, device)
        train_flops = count_flops(train_step) if flops else 0

        model.eval()

        def predict():
            with _autocast(device, amp):
                model(inputs, samples, mode='predict')

        def infer(fn=predict):
            # inference_mode outside the compiled region: dynamo cannot
            # enter it around inputs made outside it.
            with torch.inference_mode():
                fn()

        infer_s = timed(functools.partial(infer, compiled(predict)), steps,
                        warmup, device)
        infer_flops = 0
        if flops:
            with _no_trainable(model):
                infer_flops = count_flops(infer)
    except torch.cuda.OutOfMemoryError:
        result['error'] = 'out of memory'
        return result
    finally:
        del model, optimizer, inputs, samples
        release_freed_memory()
        if device.type == 'cuda':
            torch.cuda.empty_cache()

    clips = batch * steps
    result.update(
        train_clips_per_s=clips / train_s,
        train_step_ms=1e3 * train_s / steps,
        train_peak_mem_mib=(None if memory.peak_bytes is None else
                            memory.peak_bytes / 2**20),
        mem_kind=memory.kind,
        train_gflop_per_clip=train_flops / batch / 1e9,
        train_tflops_per_s=train_flops * steps / train_s / 1e12,
        infer_clips_per_s=clips / infer_s,
        infer_gflop_per_clip=infer_flops / batch / 1e9,
        infer_tflops_per_s=infer_flops * steps / infer_s / 1e12,
    )
    return result


@contextmanager
def _no_trainable(model: nn.Module):
    """Every parameter with ``requires_grad=False`` for the block.

    FlopCounterMode's module tracker hooks the autograd graph of every module
    input that requires grad; under ``inference_mode`` such an input (a VPT
    prompt parameter entering its dropout) has no graph and the tracker
    raises. Inference needs no gradient, so the flags can go for the count.
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _ratio(a, b):
    return None if a is None or not b else a / b


def run_benchmark(cfg: Config,
                  batch: int = 8,
                  steps: int = 10,
                  warmup: int = 3,
                  amp: str = 'none',
                  device: Optional[str] = None,
                  baseline: bool = False,
                  frames: Optional[int] = None,
                  size: Optional[int] = None,
                  threads: Optional[int] = None,
                  compile_backend: Optional[str] = None) -> dict:
    """Benchmark ``cfg``'s recognizer (and the stock one with ``baseline``).

    Returns a JSON-ready dict: the setting (``config``, ``device``,
    ``device_name``, ``torch``, ``amp``, ``batch``, ``steps``, ``warmup``,
    ``input_shape`` ``[C, T, H, W]``), ``model`` (see
    :func:`measure_recognizer`), and with ``baseline`` also ``baseline``
    and ``ratio`` (ours / stock: ``train_speedup``, ``infer_speedup``,
    ``train_peak_mem_fraction``; ``None`` where stock failed).
    ``threads`` sets ``torch.set_num_threads`` (CPU). ``compile_backend``
    (e.g. ``'inductor'``) compiles our model's training step and inference
    (:func:`measure_recognizer`); the stock baseline stays eager, as
    mmaction2 runs it, and each entry's ``compile`` says which ran how.

    Before anything is measured, the model runs one untimed training step
    and one inference: the process's one-off costs (kernel selection, thread
    pools, allocator and library workspaces: ~40 MiB of RSS on a CPU)
    would otherwise be charged to whichever model runs first.
    """
    for key, value, low in (('batch', batch, 1), ('steps', steps, 1),
                            ('warmup', warmup, 0)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f'--{key} {value!r}: must be an integer >= {low}')
    if compile_backend and warmup < 1:
        raise ValueError('--compile needs --warmup >= 1: the first call '
                         'compiles and must not be timed')
    if amp not in AMP_DTYPES:
        raise ValueError(f'--amp {amp!r}; valid: {sorted(AMP_DTYPES)}')
    dev = resolve_device(device)
    if threads is not None and threads < 1:
        raise ValueError(f'--threads {threads}: must be >= 1')
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run_benchmark(cfg, batch, steps, warmup, amp, dev, baseline,
                              frames, size, compile_backend)
    finally:
        # A library call must not leave the process on another thread count.
        torch.set_num_threads(previous_threads)


def _run_benchmark(cfg: Config, batch: int, steps: int, warmup: int,
                   amp: str, dev: torch.device, baseline: bool,
                   frames: Optional[int], size: Optional[int],
                   compile_backend: Optional[str]) -> dict:
    shape = config_input_shape(cfg, frames, size)
    model_cfg = benchmark_model_cfg(cfg, shape)
    scope = cfg.get('default_scope', _KINDS[model_kind(model_cfg)]['scope'])
    torch.manual_seed(0)
    result = dict(
        config=cfg.filename,
        device=dev.type,
        device_name=device_name(dev),
        torch=torch.__version__,
        amp=amp,
        batch=batch,
        steps=steps,
        warmup=warmup,
        input_shape=list(shape.dims),
        optimizer=str((cfg.get('optim_wrapper') or {}).get(
            'optimizer', {}).get('type', 'AdamW')),
    )
    args = (cfg, shape, batch, steps, warmup, amp, dev, scope)
    measure_recognizer('process warmup', model_cfg, cfg, shape, batch, 1, 1,
                       amp, dev, scope, flops=False)
    result['model'] = measure_recognizer('model', model_cfg, *args,
                                         compile_backend=compile_backend)
    if baseline:
        stock = measure_recognizer('stock', stock_model_cfg(model_cfg),
                                   *args)
        ours = result['model']
        result['baseline'] = stock
        result['ratio'] = dict(
            train_speedup=_ratio(ours.get('train_clips_per_s'),
                                 stock.get('train_clips_per_s')),
            infer_speedup=_ratio(ours.get('infer_clips_per_s'),
                                 stock.get('infer_clips_per_s')),
            train_peak_mem_fraction=_ratio(ours.get('train_peak_mem_mib'),
                                           stock.get('train_peak_mem_mib')))
    return result


_ROWS = (
    ('trainable params', 'trainable_params', '{:,}'),
    ('all params', 'total_params', '{:,}'),
    ('train clips/s', 'train_clips_per_s', '{:.2f}'),
    ('train step ms', 'train_step_ms', '{:.1f}'),
    ('train peak MiB', 'train_peak_mem_mib', '{:.1f}'),
    ('train GFLOP/clip', 'train_gflop_per_clip', '{:.3f}'),
    ('train TFLOP/s', 'train_tflops_per_s', '{:.4f}'),
    ('infer clips/s', 'infer_clips_per_s', '{:.2f}'),
    ('infer GFLOP/clip', 'infer_gflop_per_clip', '{:.3f}'),
    ('infer TFLOP/s', 'infer_tflops_per_s', '{:.4f}'),
)
_RATIO_ROWS = {
    'train_clips_per_s': 'train_speedup',
    'infer_clips_per_s': 'infer_speedup',
    'train_peak_mem_mib': 'train_peak_mem_fraction',
}


def _cell(fmt: str, value) -> str:
    return 'n/a' if value is None else fmt.format(value)


def format_benchmark(result: dict) -> str:
    """The table ``tools/benchmark.py`` prints."""
    ours, stock = result['model'], result.get('baseline')
    lines = [
        f'config: {result["config"]}',
        f'device: {result["device"]} ({result["device_name"]}), torch '
        f'{result["torch"]}, amp {result["amp"]}, compile '
        f'{ours.get("compile") or "off"}, batch {result["batch"]}, '
        f'{result["steps"]} timed steps after {result["warmup"]} warmup',
        ('input image (C x H x W): ' if len(result['input_shape']) == 3
         else 'input clip (C x T x H x W): ') +
        'x'.join(str(v) for v in result['input_shape']) +
        f'; optimizer {result["optimizer"]}; peak memory: '
        f'{ours.get("mem_kind", "n/a")}',
    ]
    head = [f'model ({ours["backbone"]})']
    if stock is not None:
        head += [f'stock ({stock["backbone"].split(".")[-1]})', 'ours/stock']
    width = max(22, *(len(h) + 2 for h in head))
    lines.append(f'{"":<18}' + ''.join(f'{h:>{width}}' for h in head))
    for label, key, fmt in _ROWS:
        row = [_cell(fmt, ours.get(key))]
        if stock is not None:
            row.append(stock.get('error') or _cell(fmt, stock.get(key)))
            ratio_key = _RATIO_ROWS.get(key)
            row.append(_cell('{:.2f}x', result['ratio'][ratio_key])
                       if ratio_key else '')
        if ours.get('error'):
            row[0] = ours['error']
        lines.append(f'{label:<18}' + ''.join(f'{c:>{width}}' for c in row))
    return '\n'.join(lines)
