"""AdaptMLP, the bottleneck adapter of AdaptFormer (arXiv 2205.13535, 3.2).

:class:`AdapterConfig` holds AdaptFormer's settings (``adapter_cfg`` in
configs) with their defaults and checks, once. Pure PyTorch: the module knows
nothing about where it is placed. The video and image backbones decide the
placement (parallel or sequential to the MLP) from the same config.
"""
import dataclasses
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .config import (MethodConfig, check_choice, check_dropout, is_int,
                     is_number, layers_field, resolve_layers)

LAYERNORM_OPTIONS = ('none', 'in', 'out')
ADAPTER_MODES = ('parallel', 'sequential')
ADAPTER_INITS = ('paper', 'released_video')
#: Std of the truncated normal of ``init='released_video'`` (timm's ViT
#: weight init; bounds +-2, i.e. +-100 std: in effect untruncated).
RELEASED_VIDEO_STD = 0.02


@dataclasses.dataclass(frozen=True)
class AdapterConfig(MethodConfig):
    """AdaptFormer's settings (``adapter_cfg`` in configs), checked once.

    Args:
        bottleneck (int): Hidden width ``r`` of the bottleneck. Paper: 64
            (99,136 parameters per block for ``d=768``; 1,189,632 on the 12
            blocks of ViT-B).
        scale (float): The scale ``s``. Fixed at 0.1 in the paper. With
            ``learnable_scale=True`` it is the initial value of a learnable
            scalar (the reference code starts that scalar at 1.0: pass
            ``scale=1.0`` to match it).
        learnable_scale (bool): Make ``s`` a trainable scalar.
        layernorm (str): ``'none'`` (paper default), ``'in'`` (LayerNorm on
            the adapter input) or ``'out'`` (LayerNorm on the scaled output).
        dropout (float): Dropout after the ReLU. 0.0 for video, 0.1 for
            images in the paper's recipes (the image backbone passes 0.1 as
            its default to :meth:`from_cfg`).
        mode (str): ``'parallel'`` (paper default, beside the MLP) or
            ``'sequential'`` (after it); see ``AdaptFormerMixin`` in
            ``adaptformer_mm/models/backbones/adaptformer.py``.
        layers (list[int], optional): Blocks that get an adapter; None (the
            default) adapts every block. Stored as a tuple; the backbone
            resolves it against its depth (:meth:`resolve_layers`).
        init (str): How the adapter starts. ``'paper'`` (default; the paper
            and the authors' released image code): ``down`` as PyTorch's
            Linear default, ``up.weight = 0``, biases 0, so the adapter
            outputs exactly 0 and the adapted model is the pretrained one at
            step 0. ``'released_video'``: what the authors' released video
            code ends up with, because its ViT applies its weight init to
            every Linear after the blocks (adapters included) are built:
            both weights truncated normal (std 0.02, bounds +-2), biases 0;
            the adapter then adds a small nonzero term from step 0. Use it
            to reproduce the released video runs.
    """

    key = 'adapter_cfg'

    bottleneck: int = 64
    scale: float = 0.1
    learnable_scale: bool = False
    layernorm: str = 'none'
    dropout: float = 0.0
    mode: str = 'parallel'
    layers: Optional[Tuple[int, ...]] = None
    init: str = 'paper'

    def check(self) -> None:
        key = self.key
        if not is_int(self.bottleneck) or self.bottleneck <= 0:
            raise ValueError(f'{key}.bottleneck must be a positive int '
                             f'(the paper uses 64), got {self.bottleneck!r}')
        if not is_number(self.scale):
            raise ValueError(f'{key}.scale must be a number (paper: 0.1), '
                             f'got {self.scale!r}')
        check_choice(f'{key}.layernorm', self.layernorm, LAYERNORM_OPTIONS)
        check_dropout(f'{key}.dropout', self.dropout)
        if not isinstance(self.learnable_scale, bool):
            raise ValueError(f'{key}.learnable_scale must be True or False, '
                             f'got {self.learnable_scale!r}')
        check_choice(f'{key}.mode', self.mode, ADAPTER_MODES)
        check_choice(f'{key}.init', self.init, ADAPTER_INITS)
        # Frozen: store the list a config file gives as a tuple.
        object.__setattr__(self, 'layers',
                           layers_field(f'{key}.layers', self.layers))

    def stage_configs(self, widths: Sequence[int]
                      ) -> Tuple['AdapterConfig', ...]:
        """The config of each stage's AdaptMLPs, for stages of ``widths``
        (one bottleneck for all: this config in each)."""
        return (self, ) * len(widths)

    def resolve_layers(self, depth: int) -> Tuple[int, ...]:
        """The adapted blocks of a model with ``depth`` blocks, sorted (see
        :func:`~.config.resolve_layers`)."""
        return resolve_layers(f'{self.key}.layers', self.layers, depth)


class AdaptMLP(nn.Module):
    """Bottleneck adapter ``s * Up(Dropout(ReLU(Down(x))))``.

    The paper's Eq. 3 (parallel placement) reads
    ``x_out = x' + MLP(LN(x')) + s * Up(ReLU(Down(x')))``; this module computes
    only the last term. Down and up are biased linear layers; ``up`` starts at
    zero so the adapter outputs exactly 0 and the adapted model equals the
    pretrained one before training (``init='paper'``, the default; see
    :class:`AdapterConfig` for ``init='released_video'``).

    Args:
        embed_dims (int): Token width ``d``.
        config (AdapterConfig, optional): The adapter's settings
            (``bottleneck``, ``scale``, ``learnable_scale``, ``layernorm``,
            ``dropout``; placement fields are the backbone's business).
        **fields: Instead of ``config``: its fields by name, e.g.
            ``AdaptMLP(768, bottleneck=64)`` (unknown names are an error).

    Shape:
        - input: ``(..., d)``
        - output: ``(..., d)``
    """

    def __init__(self,
                 embed_dims: int,
                 config: Optional[AdapterConfig] = None,
                 **fields) -> None:
        super().__init__()
        if not is_int(embed_dims) or embed_dims <= 0:
            raise ValueError(
                f'embed_dims must be a positive int, got {embed_dims!r}')
        self.config = config = AdapterConfig.given('AdaptMLP', config, fields)
        self.embed_dims = embed_dims
        self.bottleneck = config.bottleneck
        self.layernorm = config.layernorm

        self.norm_in = (
            nn.LayerNorm(embed_dims) if config.layernorm == 'in' else None)
        self.down = nn.Linear(embed_dims, config.bottleneck)
        self.act = nn.ReLU(inplace=False)
        self.dropout = nn.Dropout(config.dropout)
        self.up = nn.Linear(config.bottleneck, embed_dims)
        self.norm_out = (
            nn.LayerNorm(embed_dims) if config.layernorm == 'out' else None)

        if config.learnable_scale:
            self.scale = nn.Parameter(torch.tensor(float(config.scale)))
        else:
            # A buffer would land in state dicts and checkpoints; a fixed
            # float is part of the configuration, not of the weights.
            self.scale = float(config.scale)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The init of ``config.init``. ``'paper'`` (the spec): ``down`` as
        PyTorch's Linear default (Kaiming-uniform, ``a=sqrt(5)``),
        ``up.weight = 0``, both biases 0. ``'released_video'``: both weights
        ``trunc_normal_(std=0.02)`` (bounds +-2), both biases 0. LayerNorms
        (``layernorm='in'/'out'``) start at weight 1, bias 0 in both."""
        if self.config.init == 'released_video':
            nn.init.trunc_normal_(self.down.weight, std=RELEASED_VIDEO_STD)
            nn.init.trunc_normal_(self.up.weight, std=RELEASED_VIDEO_STD)
        else:
            nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
            nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.bias)
        for norm in (self.norm_in, self.norm_out):
            if norm is not None:
                norm.reset_parameters()

    # mmengine's BaseModule.init_weights calls ``init_weights`` on children
    # after applying the parent's init_cfg (e.g. TruncNormal on every
    # Linear); this brings the adapter back to the init of its config.
    init_weights = reset_parameters

    def forward(self, x: Tensor) -> Tensor:
        if self.norm_in is not None:
            x = self.norm_in(x)
        x = self.up(self.dropout(self.act(self.down(x))))
        x = x * self.scale
        if self.norm_out is not None:
            x = self.norm_out(x)
        return x

    def extra_repr(self) -> str:
        learnable = isinstance(self.scale, nn.Parameter)
        scale = float(self.scale.detach()) if learnable else self.scale
        return (f'scale={scale:g}, learnable_scale={learnable}, '
                f'layernorm={self.layernorm!r}')
