"""LoRA, low-rank adaptation of frozen linear layers (arXiv 2106.09685).

``y = W x + b + (alpha / r) * B A dropout(x)``, ``A: (r, in)``, ``B: (out,
r)``; ``A`` starts as PyTorch's Linear default (Kaiming-uniform, a=sqrt(5)),
``B`` at zero, so the adapted model equals the pretrained one before
training. :func:`merge_lora` folds ``(alpha / r) B A`` into ``W`` for
inference: the merged model is the stock model, at zero extra cost.

A projection is an ``nn.Linear`` (replaced by :class:`LoRALinear`) or a
weight a module holds as a Parameter, ``<name>_weight`` (+ ``<name>_bias``),
as ``nn.MultiheadAttention`` holds its q/k/v in-projection
(``in_proj_weight``, the CLIP blocks of UniFormerV2): that one gets its
branch as the module's child ``<name>_lora`` and is applied through
:func:`apply_projection`, which a backbone calls where it would call a
Linear. Why not fold the branch into the weight at every forward, as HF
peft's LoRA for ``nn.MultiheadAttention`` does (``W + B A`` in place of
``W``, restored afterwards): LoRA's input dropout has no weight form, and
under bf16 autocast the small ``B A`` would be rounded into ``W``'s bf16
copy; here the branch runs on ``x`` as for a Linear.

:class:`LoRAConfig` holds the settings (``lora_cfg`` in configs) and their
checks, once. Pure PyTorch: which blocks and layers get LoRA is resolved by
the backbone (:func:`find_targets` names the layers a target matches).

Why not mmpretrain's ``LoRAModel`` (``mmpretrain/models/peft/lora.py``, the
image-side reference, whose equation and init this follows): it wraps the
model (keys gain ``module.`` and ``original_layer.``, so stock checkpoints no
longer load unchanged), chooses the trainable set by the name substring
``.lora_``, drops every other key from ``state_dict()`` (the tunable-only
state here is :func:`~adaptformer_mm.peft.tunable_state_dict`, and the
backbone checksum needs the frozen tensors), has no merge step, accepts a
target that matches nothing as long as another one matched, and reaches
only layers called as modules (VideoMAE's ``qkv`` is applied with
``F.linear`` and separate q/v biases). :class:`LoRALinear` keeps the stock
``weight`` / ``bias`` names and adds only ``lora.down`` / ``lora.up``.
"""
import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import (MethodConfig, check_count, check_dropout, is_number,
                     layers_field, resolve_layers)


@dataclasses.dataclass(frozen=True)
class LoRAConfig(MethodConfig):
    """LoRA's settings (``lora_cfg`` in configs), checked once.

    Args:
        rank (int): ``r``, the rank of ``B A`` (>= 1, at most the smaller
            side of each target layer, checked at build). Default 8.
        alpha (float): ``alpha``; the update is scaled by ``alpha / r``.
            Default 8 (scale 1).
        dropout (float): Dropout on the LoRA branch's input. Default 0.
        targets (list[str]): Projections of each block that get LoRA, by
            name relative to the block: a layer matches a target when its
            name is the target or ends with ``'.' + target``. Default
            ``('qkv', 'proj')``, the attention projections. The MLP is
            ``'layers.0.0'`` (fc1) and ``'layers.1'`` (fc2) in both backbones
            (``mlp.*`` on video, ``ffn.*`` on images). A projection held as
            a weight Parameter is named without ``_weight``: ``'in_proj'``
            for ``nn.MultiheadAttention``'s ``in_proj_weight`` (UniFormerV2,
            whose family default is ``('in_proj', 'out_proj')``). A target
            that matches no projection of a block is an error naming the
            valid names.
        layers (list[int], optional): Blocks that get LoRA; None (default):
            every block. Stored as a tuple; resolved against the depth at
            build (:meth:`resolve_layers`).

    ViT-B (d=768), r=8 on qkv and proj of 12 blocks: 12 * 8 * (4d + 2d) =
    442,368 parameters.
    """

    key = 'lora_cfg'

    rank: int = 8
    alpha: float = 8.0
    dropout: float = 0.0
    targets: Tuple[str, ...] = ('qkv', 'proj')
    layers: Optional[Tuple[int, ...]] = None

    def check(self) -> None:
        key = self.key
        check_count(f'{key}.rank', self.rank)
        if not is_number(self.alpha) or self.alpha <= 0:
            raise ValueError(
                f'{key}.alpha must be a number > 0, got {self.alpha!r}')
        check_dropout(f'{key}.dropout', self.dropout)
        targets = self.targets
        if isinstance(targets, str) or not isinstance(
                targets, Sequence) or not targets or not all(
                    isinstance(t, str) and t for t in targets):
            raise ValueError(f'{key}.targets must be a non-empty list of '
                             f'layer names, got {targets!r}')
        if len(set(targets)) != len(targets):
            raise ValueError(
                f'{key}.targets must not repeat a name, got {targets!r}')
        # Frozen: store the lists a config file gives as tuples.
        object.__setattr__(self, 'targets', tuple(targets))
        object.__setattr__(self, 'layers',
                           layers_field(f'{key}.layers', self.layers))

    @property
    def scaling(self) -> float:
        """``alpha / r``."""
        return float(self.alpha) / self.rank

    def resolve_layers(self, depth: int) -> Tuple[int, ...]:
        """The blocks with LoRA in a model with ``depth`` blocks, sorted (see
        :func:`~.config.resolve_layers`)."""
        return resolve_layers(f'{self.key}.layers', self.layers, depth)


class LoRA(nn.Module):
    """The low-rank branch ``(alpha / r) * B A dropout(x)``.

    ``A`` (``down``, ``(r, in)``) and ``B`` (``up``, ``(out, r)``) are plain
    Parameters, not ``nn.Linear`` modules: initialisers that visit every
    Linear of a model (mmengine's ``init_cfg=TruncNormal(layer='Linear')``,
    mmpretrain's FFN init) then leave ``B = 0`` alone.

    Args:
        in_features / out_features (int): Sizes of the adapted layer.
        config (LoRAConfig): ``rank``, ``alpha``, ``dropout``.

    Shape: ``(..., in) -> (..., out)``.
    """

    def __init__(self, in_features: int, out_features: int,
                 config: LoRAConfig) -> None:
        super().__init__()
        limit = min(in_features, out_features)
        if config.rank > limit:
            raise ValueError(
                f'{config.key}.rank must be in [1, {limit}] for a '
                f'{in_features} -> {out_features} layer, got {config.rank}')
        self.rank = config.rank
        self.scaling = config.scaling
        self.dropout = nn.Dropout(config.dropout)
        self.down = nn.Parameter(torch.empty(config.rank, in_features))
        self.up = nn.Parameter(torch.empty(out_features, config.rank))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``A`` as PyTorch's Linear default (Kaiming-uniform, a=sqrt(5)),
        ``B = 0`` (LoRA Sec. 4.1: ``B A = 0`` at the start)."""
        nn.init.kaiming_uniform_(self.down, a=math.sqrt(5))
        nn.init.zeros_(self.up)

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(F.linear(self.dropout(x), self.down), self.up)
        return x * self.scaling

    def delta_weight(self) -> Tensor:
        """``(alpha / r) B A``, shape ``(out, in)``: what merging adds to
        the frozen weight."""
        return (self.up @ self.down) * self.scaling

    def extra_repr(self) -> str:
        return f'rank={self.rank}, scaling={self.scaling:g}'


class LoRALinear(nn.Linear):
    """A frozen ``nn.Linear`` with a :class:`LoRA` branch: ``W x + b +
    lora(x)``.

    Holds the original layer's ``weight`` and ``bias`` Parameters themselves
    (same tensors, same names), so a stock checkpoint loads unchanged and the
    only new keys are ``lora.down`` / ``lora.up``.

    Args:
        base (nn.Linear): The layer to adapt.
        config (LoRAConfig): The branch's settings.
    """

    def __init__(self, base: nn.Linear, config: LoRAConfig) -> None:
        nn.Module.__init__(self)
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.weight = base.weight
        self.register_parameter('bias', base.bias)
        self.lora = LoRA(base.in_features, base.out_features, config)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + self.lora(x).to(x.dtype)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with ``W + (alpha / r) B A`` (a new tensor:
        the frozen one may be shared with other models) and the same bias."""
        linear = nn.Linear(self.in_features, self.out_features,
                           bias=self.bias is not None,
                           device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(self.weight + self.lora.delta_weight().to(
                self.weight.dtype))
        if self.bias is not None:
            linear.bias = self.bias
        linear.weight.requires_grad_(self.weight.requires_grad)
        return linear


def parameter_projections(block: nn.Module) -> Dict[str, nn.Module]:
    """Projections the modules of ``block`` hold as a 2-D Parameter
    ``<name>_weight`` rather than as an ``nn.Linear``
    (``nn.MultiheadAttention``'s ``in_proj_weight``), keyed
    ``'<module>.<name>'`` (``'attn.in_proj'``), each with the module that
    holds it."""
    found = {}
    for prefix, module in block.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if name.endswith('_weight') and param.dim() == 2:
                projection = name[:-len('_weight')]
                found[f'{prefix}.{projection}' if prefix else projection] = \
                    module
    return found


def find_targets(block: nn.Module, config: LoRAConfig,
                 where: str = 'a block') -> Dict[str, nn.Module]:
    """The projections of ``block`` that ``config.targets`` select, by name
    relative to ``block``: its ``nn.Linear`` layers (the values), in module
    order, then the projections held as a weight Parameter
    (:func:`parameter_projections`; the value is the module holding it).

    Raises:
        ValueError: a target matches no projection of ``block``; the message
            names the key, the target and every valid name.
    """
    linears = {n: m for n, m in block.named_modules()
               if isinstance(m, nn.Linear) and n}
    projections = {**linears, **parameter_projections(block)}
    chosen = set()
    for target in config.targets:
        hits = [n for n in projections
                if n == target or n.endswith('.' + target)]
        if not hits:
            raise ValueError(
                f'{config.key}.targets: {target!r} matches no linear layer '
                f'of {where}; valid names (or their dotted suffixes; a '
                f'weight Parameter without _weight): {sorted(projections)}')
        chosen.update(hits)
    return {n: m for n, m in projections.items() if n in chosen}


def add_lora(block: nn.Module, config: LoRAConfig,
             where: str = 'a block') -> List[str]:
    """Give each target projection of ``block`` a LoRA branch: a linear
    layer is replaced by a :class:`LoRALinear` around it, a weight Parameter
    ``<name>_weight`` gets the :class:`LoRA` child ``<name>_lora`` of its
    module (:func:`apply_projection` runs it). Returns the adapted names."""
    names = list(find_targets(block, config, where))
    for name in names:
        parent, _, attr = name.rpartition('.')
        owner = block.get_submodule(parent) if parent else block
        layer = getattr(owner, attr, None)
        if isinstance(layer, nn.Linear):
            setattr(owner, attr, LoRALinear(layer, config))
        else:
            out_features, in_features = getattr(owner, f'{attr}_weight').shape
            owner.add_module(f'{attr}_lora',
                             LoRA(in_features, out_features, config))
    return names


def apply_projection(module: nn.Module, name: str, x: Tensor) -> Tensor:
    """``x W^T + b`` of the projection ``module`` holds as the Parameters
    ``<name>_weight`` and ``<name>_bias`` (``nn.MultiheadAttention``'s
    ``in_proj``), plus its LoRA branch ``<name>_lora`` when
    :func:`add_lora` gave it one: ``(..., in) -> (..., out)``.

    A backbone applies such a projection through this function, as it calls
    a Linear projection as a module, so that LoRA reaches both.
    """
    out = F.linear(x, getattr(module, f'{name}_weight'),
                   getattr(module, f'{name}_bias', None))
    lora = getattr(module, f'{name}_lora', None)
    if lora is None:
        return out
    return out + lora(x).to(out.dtype)


def merge_lora(model: nn.Module, require: bool = False) -> int:
    """Fold every LoRA branch of ``model`` into its frozen weight, in place:
    each :class:`LoRALinear` becomes a plain ``nn.Linear``
    (:meth:`LoRALinear.merged`), each ``<name>_lora`` branch of a weight
    Parameter is added to a new ``<name>_weight`` Parameter and removed. The
    model then has exactly the stock modules and keys; its outputs are those
    of the unmerged model (up to float rounding). Returns how many were
    merged.

    Raises:
        ValueError: ``require`` and ``model`` has no LoRA layer (the message
            names its backbone type).
    """
    found = [(n, m) for n, m in model.named_modules()
             if isinstance(m, LoRALinear)]
    attached = [(owner, name[:-len('_lora')])
                for owner in model.modules()
                for name, child in owner.named_children()
                if isinstance(child, LoRA) and name.endswith('_lora')
                and isinstance(getattr(owner, name[:-len('_lora')] +
                                       '_weight', None), nn.Parameter)]
    if require and not found and not attached:
        backbone = getattr(model, 'backbone', model)
        raise ValueError(
            f'no LoRA layer to merge: the backbone is '
            f'{type(backbone).__name__}; LoRA layers come from the LoRA '
            'backbones (LoRAVideoViT, LoRAViT, backbone.lora_cfg)')
    for name, module in found:
        parent, _, attr = name.rpartition('.')
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, attr, module.merged())
    for owner, name in attached:
        weight = getattr(owner, f'{name}_weight')
        branch = getattr(owner, f'{name}_lora')
        # A new tensor: the frozen one may be shared with other models.
        with torch.no_grad():
            merged = weight + branch.delta_weight().to(weight.dtype)
        setattr(owner, f'{name}_weight',
                nn.Parameter(merged, requires_grad=weight.requires_grad))
        delattr(owner, f'{name}_lora')
    return len(found) + len(attached)
