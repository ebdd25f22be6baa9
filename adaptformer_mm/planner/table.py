"""The planner's table for ``docs/planner.md``: every method on the VideoMAE
ViT-B / L / H, VideoMAE V2 ViT-g and Video Swin-B recipes, with and without
activation checkpointing, and what each memory option buys on ViT-B
(``tools/plan_table.py`` prints both as Markdown).

A ViT row is the ViT-B recipe of the method (``configs/<method>/..._ssv2.py``)
with the backbone's sizes (patch, width, depth, heads, MLP ratio) and the
head's input width taken from the size's model file
(``configs/_base_/models/``), so every method runs on every size with the
recipe's own settings; a Swin row is the method's Swin-B recipe (full
fine-tuning and the linear probe: the partial-1 recipe's backbone with
``tuning`` set).
"""
import copy
import dataclasses
import os.path as osp
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config

from adaptformer_mm.apis import load_config
from .memory import GIB, MemoryPlan, parse_memory, plan_config

__all__ = [
    'OPTION_ROWS', 'SWIN_METHODS', 'VIT_METHODS', 'VIT_SIZES', 'option_table',
    'recipe_table'
]

_VIT = '{}_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py'
_SWIN = '{}_swin-base-p244-w877_in1k-k400-pre_8xb128-8x4x1-90e_ssv2.py'

#: (method, ViT-B recipe) of every row of the ViT table.
VIT_METHODS = (
    ('full fine-tuning', 'full_finetune/' + _VIT.format('full-finetune')),
    ('linear probe', 'linear_probe/' + _VIT.format('linear-probe')),
    ('AdaptFormer-64', 'adaptformer/' + _VIT.format('adaptformer-64')),
    ('VPT-deep-1', 'vpt/' + _VIT.format('vpt-deep-1')),
    ('LoRA-8', 'lora/' + _VIT.format('lora-8')),
    ('BitFit', 'bitfit/' + _VIT.format('bitfit')),
    ('partial-1', 'partial/' + _VIT.format('partial-1')),
)
#: (name, model file) of the ViT sizes.
VIT_SIZES = (
    ('VideoMAE ViT-B', '_base_/models/videomae_vit-base-p16.py'),
    ('VideoMAE ViT-L', '_base_/models/videomae_vit-large-p16.py'),
    ('VideoMAE ViT-H', '_base_/models/videomae_vit-huge-p16.py'),
    ('VideoMAE V2 ViT-g', '_base_/models/videomaev2_vit-giant-p14.py'),
)
_SIZE_KEYS = ('patch_size', 'embed_dims', 'depth', 'num_heads', 'mlp_ratio')


def _tuning(tuning: str) -> Callable[[Config], None]:
    """The partial-1 Swin recipe's backbone as a plain ``TunableVideoSwin``
    with ``tuning``."""

    def change(cfg: Config) -> None:
        backbone = dict(cfg.model.backbone)
        backbone.pop('partial_cfg')
        cfg.model.backbone = dict(backbone, type='TunableVideoSwin',
                                  tuning=tuning)

    return change


#: (method, Swin-B recipe, change) of every row of the Swin table.
SWIN_METHODS = (
    ('full fine-tuning', 'partial/' + _SWIN.format('partial-1'),
     _tuning('full')),
    ('linear probe', 'partial/' + _SWIN.format('partial-1'), _tuning('peft')),
    ('AdaptFormer (dim/12)',
     'adaptformer/' + _SWIN.format('adaptformer-dim12'), None),
    ('VPT-deep-1', 'vpt/' + _SWIN.format('vpt-deep-1'), None),
    ('LoRA-8', 'lora/' + _SWIN.format('lora-8'), None),
    ('BitFit', 'bitfit/' + _SWIN.format('bitfit'), None),
    ('partial-1', 'partial/' + _SWIN.format('partial-1'), None),
)

_TOP6 = {'model.backbone.adapter_cfg.layers': list(range(6, 12))}
#: (option, ViT-B recipe, cfg overrides, with_cp) of the options table.
OPTION_ROWS = (
    ('full fine-tuning', VIT_METHODS[0][1], {}, False),
    ('AdaptFormer-64 on all 12 blocks', VIT_METHODS[2][1], {}, False),
    ('AdaptFormer-64 on the top 6 blocks', VIT_METHODS[2][1], _TOP6, False),
    ('top 6 blocks, autograd below them too (skip_frozen_grad=False)',
     VIT_METHODS[2][1], dict(_TOP6, **{'model.backbone.skip_frozen_grad':
                                       False}), False),
    ('all 12 blocks + with_cp', VIT_METHODS[2][1], {}, True),
    ('top 6 blocks + with_cp', VIT_METHODS[2][1], _TOP6, True),
    ('linear probe', VIT_METHODS[1][1], {}, False),
)


def _resized(cfg: Config, model_file: str) -> None:
    """Give ``cfg``'s ViT the sizes of the model file ``model_file``."""
    size = Config.fromfile(model_file).model  # its _base_ merged
    for key in _SIZE_KEYS:
        cfg.model.backbone[key] = size.backbone[key]
    cfg.model.cls_head.in_channels = size.cls_head.in_channels


def _fmt_gib(n: float) -> str:
    return f'{n / GIB:.2f}'


def _fmt_mib(n: float) -> str:
    return f'{n / 2**20:,.0f}'


def _params(n: int) -> str:
    return f'{n / 1e6:.2f}M' if n >= 1e5 else f'{n:,}'


def _row_cells(plans: Sequence[MemoryPlan], batch: int,
               memories: Sequence[int]) -> List[str]:
    """Per clip, at ``batch`` and the largest batch on each memory, for
    each plan (without, then with checkpointing)."""
    cells = []
    for plan in plans:
        cells += [_fmt_mib(plan.per_clip_bytes(batch)),
                  _fmt_gib(plan.total_bytes(batch)),
                  ' / '.join(str(dataclasses.replace(
                      plan, memory_bytes=m).largest_batch())
                             for m in memories)]
    return cells


def recipe_table(root: str, frames: int = 16, size: int = 224,
                 amp: str = 'bf16', batch: int = 8,
                 memories: Sequence[str] = ('24G', '40G', '80G'),
                 progress: Optional[Callable[[str], None]] = None) -> str:
    """The Markdown table of every method on every backbone (see the module
    docstring); ``root`` is the ``configs`` folder."""
    sizes = [parse_memory(m) for m in memories]
    mem = '/'.join(m.rstrip('GgBbi') for m in memories)
    head = ('| backbone | method | trainable | MiB per clip | GiB at batch '
            f'{batch} | largest batch on {mem} GB | MiB per clip, with_cp | '
            f'GiB at batch {batch}, with_cp | largest batch on {mem} GB, '
            'with_cp |')
    lines = [head, '|' + '---|' * 2 + '---:|' * 7]
    rows = _rows(root)
    for backbone, method, cfg in rows:
        if progress:
            progress(f'{backbone}, {method}')
        plans = [plan_config(copy.deepcopy(cfg), batch=batch, frames=frames,
                             size=size, amp=amp, with_cp=cp)
                 for cp in (False, True)]
        lines.append(f'| {backbone} | {method} | '
                     f'{_params(plans[0].trainable_params)} | ' +
                     ' | '.join(_row_cells(plans, batch, sizes)) + ' |')
    return '\n'.join(lines)


def _rows(root: str) -> Iterable[Tuple[str, str, Config]]:
    for backbone, model_file in VIT_SIZES:
        for method, recipe in VIT_METHODS:
            cfg = load_config(osp.join(root, recipe))
            _resized(cfg, osp.join(root, model_file))
            yield backbone, method, cfg
    for method, recipe, change in SWIN_METHODS:
        cfg = load_config(osp.join(root, recipe))
        if change:
            change(cfg)
        yield 'Video Swin-B', method, cfg


def option_table(root: str, frames: int = 16, size: int = 224,
                 amp: str = 'bf16', batch: int = 8,
                 memory: str = '24G',
                 progress: Optional[Callable[[str], None]] = None) -> str:
    """The Markdown table of what each memory option buys on ViT-B
    (:data:`OPTION_ROWS`)."""
    card = parse_memory(memory)
    lines = [
        f'| ViT-B, {frames} x {size}^2, {amp} | trainable | MiB saved per '
        f'clip | MiB per clip at the peak | GiB at batch {batch} | largest '
        f'batch on {memory.rstrip("GgBbi")} GB |',
        '|---|---:|---:|---:|---:|---:|',
    ]
    for option, recipe, overrides, cp in OPTION_ROWS:
        if progress:
            progress(option.strip())
        cfg = load_config(osp.join(root, recipe))
        cfg.merge_from_dict(overrides)
        plan = plan_config(cfg, batch=batch, frames=frames, size=size,
                           amp=amp, with_cp=cp, memory=card)
        lines.append(
            f'| {option} | {_params(plan.trainable_params)} | '
            f'{_fmt_mib(plan.saved.per_clip)} | '
            f'{_fmt_mib(plan.per_clip_bytes(batch))} | '
            f'{_fmt_gib(plan.total_bytes(batch))} | '
            f'{plan.largest_batch()} |')
    return '\n'.join(lines)
