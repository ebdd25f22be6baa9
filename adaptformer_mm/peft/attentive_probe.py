"""Attentive probing: a learned query cross-attends to the frozen tokens and
the result is the pooled feature (the probe of recent video benchmarks, e.g.
V-JEPA's evaluation, in its smallest form: one query, one attention).

:class:`AttentiveProbeConfig` holds the settings (``probe_cfg`` in configs)
and their checks, once; :class:`AttentivePooler` is the pure-PyTorch module.
Which tokens it reads, and what follows it, is the backbone's business.
"""
import dataclasses
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import MethodConfig, check_count, check_dropout, is_int


@dataclasses.dataclass(frozen=True)
class AttentiveProbeConfig(MethodConfig):
    """The attentive probe's settings (``probe_cfg`` in configs).

    Args:
        num_heads (int, optional): Attention heads; None (default): the
            backbone's head count. Must divide the token width (checked at
            build).
        dropout (float): Dropout on the attention weights. Default 0.

    Parameters (width ``d``): ``3*d*d + 6*d`` (query ``d``, LayerNorm
    ``2d``, key/value projection ``2d*d + 2d``, output projection
    ``d*d + d``); ViT-B: 1,774,080.
    """

    key = 'probe_cfg'

    num_heads: Optional[int] = None
    dropout: float = 0.0

    def check(self) -> None:
        check_count(f'{self.key}.num_heads', self.num_heads,
                    none='the backbone\'s')
        check_dropout(f'{self.key}.dropout', self.dropout)


class AttentivePooler(nn.Module):
    """``proj(softmax(q K^T / sqrt(d_h)) V)`` with one learned query ``q``.

    ``K, V = kv(LN(tokens))``, split into heads. The query is learned
    directly in the key space: a query projection ``W_q q`` of a learned
    ``q`` would only reparametrise it.

    Args:
        embed_dims (int): Token width ``d``.
        num_heads (int): Heads (must divide ``d``).
        config (AttentiveProbeConfig): ``dropout`` (``num_heads`` is
            resolved by the caller).

    Shape: ``(B, N, d) -> (B, d)``.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 config: AttentiveProbeConfig) -> None:
        super().__init__()
        if not is_int(num_heads) or num_heads < 1 or embed_dims % num_heads:
            raise ValueError(
                f'{config.key}.num_heads must divide the token width '
                f'{embed_dims}, got {num_heads!r}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.dropout = config.dropout
        self.query = nn.Parameter(torch.empty(1, 1, embed_dims))
        self.norm = nn.LayerNorm(embed_dims)
        self.kv = nn.Linear(embed_dims, 2 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Query trunc-normal (std 0.02, as ViT's CLS token); projections
        as PyTorch's Linear default; the LayerNorm at identity."""
        nn.init.trunc_normal_(self.query, std=0.02)
        self.norm.reset_parameters()
        for linear in (self.kv, self.proj):
            linear.reset_parameters()

    # After a parent's init_cfg (which would treat kv / proj as any Linear).
    init_weights = reset_parameters

    def forward(self, tokens: Tensor) -> Tensor:
        b, n, d = tokens.shape
        heads, dh = self.num_heads, d // self.num_heads
        kv = self.kv(self.norm(tokens)).reshape(b, n, 2, heads, dh)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, heads, N, dh)
        q = self.query.to(tokens.dtype).expand(b, -1, -1).reshape(
            b, 1, heads, dh).transpose(1, 2)
        drop = self.dropout if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop,
                                           scale=1.0 / math.sqrt(dh))
        return self.proj(x.transpose(1, 2).reshape(b, d))

    def extra_repr(self) -> str:
        return f'embed_dims={self.embed_dims}, num_heads={self.num_heads}'
