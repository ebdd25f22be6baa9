"""AdaptMLP, the bottleneck adapter of AdaptFormer (arXiv 2205.13535, 3.2).

Pure PyTorch: the module knows nothing about where it is placed. The video and
image backbones decide the placement (parallel or sequential to the MLP).
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn

LAYERNORM_OPTIONS = ('none', 'in', 'out')


class AdaptMLP(nn.Module):
    """Bottleneck adapter ``s * Up(Dropout(ReLU(Down(x))))``.

    The paper's Eq. 3 (parallel placement) reads
    ``x_out = x' + MLP(LN(x')) + s * Up(ReLU(Down(x')))``; this module computes
    only the last term. Down and up are biased linear layers; ``up`` starts at
    zero so the adapter outputs exactly 0 and the adapted model equals the
    pretrained one before training.

    Args:
        embed_dims (int): Token width ``d``.
        bottleneck (int): Hidden width ``r`` of the bottleneck. The paper's
            default is 64 (99,136 parameters for ``d=768``).
        scale (float): The scale ``s``. Fixed at 0.1 in the paper. With
            ``learnable_scale=True`` it is the initial value of a learnable
            scalar (the reference code starts that scalar at 1.0: pass
            ``scale=1.0`` to match it).
        learnable_scale (bool): Make ``s`` a trainable scalar.
        layernorm (str): ``'none'`` (paper default), ``'in'`` (LayerNorm on
            the adapter input) or ``'out'`` (LayerNorm on the scaled output).
        dropout (float): Dropout after the ReLU. 0.0 for video, 0.1 for
            images in the paper's recipes.

    Shape:
        - input: ``(..., d)``
        - output: ``(..., d)``
    """

    def __init__(self,
                 embed_dims: int,
                 bottleneck: int = 64,
                 scale: float = 0.1,
                 learnable_scale: bool = False,
                 layernorm: str = 'none',
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_adapter_args(
            embed_dims=embed_dims,
            bottleneck=bottleneck,
            scale=scale,
            layernorm=layernorm,
            dropout=dropout)
        self.embed_dims = embed_dims
        self.bottleneck = bottleneck
        self.layernorm = layernorm

        self.norm_in = nn.LayerNorm(embed_dims) if layernorm == 'in' else None
        self.down = nn.Linear(embed_dims, bottleneck)
        self.act = nn.ReLU(inplace=False)
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(bottleneck, embed_dims)
        self.norm_out = (
            nn.LayerNorm(embed_dims) if layernorm == 'out' else None)

        if learnable_scale:
            self.scale = nn.Parameter(torch.tensor(float(scale)))
        else:
            # A buffer would land in state dicts and checkpoints; a fixed
            # float is part of the configuration, not of the weights.
            self.scale = float(scale)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Spec init: ``down`` as PyTorch's Linear default (Kaiming-uniform,
        ``a=sqrt(5)``), ``up.weight = 0``, both biases 0."""
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        for norm in (self.norm_in, self.norm_out):
            if norm is not None:
                norm.reset_parameters()

    # mmengine's BaseModule.init_weights calls ``init_weights`` on children
    # after applying the parent's init_cfg (e.g. TruncNormal on every
    # Linear); this brings the adapter back to its spec init.
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


def check_adapter_args(embed_dims: Optional[int] = None,
                       bottleneck: int = 64,
                       scale: float = 0.1,
                       layernorm: str = 'none',
                       dropout: float = 0.0,
                       key: str = 'adapter_cfg') -> None:
    """Raise ``ValueError`` naming ``key.<field>`` and the valid values."""
    if embed_dims is not None and (not isinstance(embed_dims, int)
                                   or embed_dims <= 0):
        raise ValueError(
            f'embed_dims must be a positive int, got {embed_dims!r}')
    if isinstance(bottleneck, bool) or not isinstance(
            bottleneck, int) or bottleneck <= 0:
        raise ValueError(f'{key}.bottleneck must be a positive int '
                         f'(the paper uses 64), got {bottleneck!r}')
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ValueError(
            f'{key}.scale must be a number (paper: 0.1), got {scale!r}')
    if layernorm not in LAYERNORM_OPTIONS:
        raise ValueError(f'{key}.layernorm must be one of '
                         f'{LAYERNORM_OPTIONS}, got {layernorm!r}')
    if isinstance(dropout, bool) or not isinstance(
            dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(
            f'{key}.dropout must be a number in [0, 1), got {dropout!r}')
