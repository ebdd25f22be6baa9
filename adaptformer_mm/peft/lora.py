"""LoRA, low-rank adaptation of frozen linear layers (arXiv 2106.09685).

``y = W x + b + (alpha / r) * B A dropout(x)``, ``A: (r, in)``, ``B: (out,
r)``; ``A`` starts as PyTorch's Linear default (Kaiming-uniform, a=sqrt(5)),
``B`` at zero, so the adapted model equals the pretrained one before
training. :func:`merge_lora` folds ``(alpha / r) B A`` into ``W`` for
inference: the merged model is the stock model, at zero extra cost.

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
        targets (list[str]): Linear layers of each block that get LoRA, by
            name relative to the block: a layer matches a target when its
            name is the target or ends with ``'.' + target``. Default
            ``('qkv', 'proj')``, the attention projections. The MLP is
            ``'layers.0.0'`` (fc1) and ``'layers.1'`` (fc2) in both backbones
            (``mlp.*`` on video, ``ffn.*`` on images). A target that matches
            no linear layer of a block is an error naming the valid names.
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


def find_targets(block: nn.Module, config: LoRAConfig,
                 where: str = 'a block') -> Dict[str, nn.Linear]:
    """The linear layers of ``block`` that ``config.targets`` select, by
    name relative to ``block``, in module order.

    Raises:
        ValueError: a target matches no ``nn.Linear`` of ``block``; the
            message names the key, the target and every valid name.
    """
    linears = {n: m for n, m in block.named_modules()
               if isinstance(m, nn.Linear) and n}
    chosen = {}
    for target in config.targets:
        hits = [n for n in linears
                if n == target or n.endswith('.' + target)]
        if not hits:
            raise ValueError(
                f'{config.key}.targets: {target!r} matches no linear layer '
                f'of {where}; valid names (or their dotted suffixes): '
                f'{sorted(linears)}')
        chosen.update((n, linears[n]) for n in hits)
    return {n: chosen[n] for n in linears if n in chosen}


def add_lora(block: nn.Module, config: LoRAConfig,
             where: str = 'a block') -> List[str]:
    """Replace each target linear layer of ``block`` by a
    :class:`LoRALinear` around it; returns the replaced names."""
    names = list(find_targets(block, config, where))
    for name in names:
        parent, _, attr = name.rpartition('.')
        owner = block.get_submodule(parent) if parent else block
        setattr(owner, attr, LoRALinear(getattr(owner, attr), config))
    return names


def merge_lora(model: nn.Module, require: bool = False) -> int:
    """Fold every :class:`LoRALinear` of ``model`` into a plain
    ``nn.Linear`` (:meth:`LoRALinear.merged`), in place. The model then has
    exactly the stock modules and keys; its outputs are those of the
    unmerged model (up to float rounding). Returns how many were merged.

    Raises:
        ValueError: ``require`` and ``model`` has no LoRA layer (the message
            names its backbone type).
    """
    found = [(n, m) for n, m in model.named_modules()
             if isinstance(m, LoRALinear)]
    if require and not found:
        backbone = getattr(model, 'backbone', model)
        raise ValueError(
            f'no LoRA layer to merge: the backbone is '
            f'{type(backbone).__name__}; LoRA layers come from the LoRA '
            'backbones (LoRAVideoViT, LoRAViT, backbone.lora_cfg)')
    for name, module in found:
        parent, _, attr = name.rpartition('.')
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, attr, module.merged())
    return len(found)
