"""The video ViT family: mmaction2's VideoMAE ViT, made tunable.

:class:`TunableVideoViT` subclasses mmaction2's ``VisionTransformer`` and keeps
every parameter name, so any mmaction2 VideoMAE checkpoint loads unchanged.
Build-time freezing, frozen-in-eval, no graph below the first trainable block,
activation checkpointing, summaries and load reports come from
:class:`~.tunable_base.TunableBackboneMixin` (shared by every family); this
file holds the family's hooks, what is particular to VideoMAE:

* fused attention (``F.scaled_dot_product_attention``) by default, the stock
  eager math as ``attn_impl='eager'`` (the stock VideoMAE attention is eager);
* position tables for any frame count or resolution;
* mean pooling of patch tokens then ``fc_norm``, which trains under
  ``tuning='peft'`` as in AdaptFormer's video runs.

``TunableVideoViT(tuning='peft')`` is linear probing (only ``fc_norm`` and the
head train); ``tuning='full'`` is full fine-tuning.
"""
import functools
import logging
import math
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import (Attention, Block,
                                               VisionTransformer,
                                               get_sinusoid_encoding)
from mmaction.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor, nn

from .tunable_base import TUNINGS, TunableBackboneMixin, check_build_kwargs

ATTN_IMPLS = ('sdpa', 'eager')
Grid = Tuple[int, int, int]  # a token grid (t, h, w)

__all__ = ['TunableVideoViT', 'TUNINGS', 'ATTN_IMPLS']


@functools.lru_cache(maxsize=16)
def _sinusoid_table(num_tokens: int, embed_dims: int) -> Tensor:
    return get_sinusoid_encoding(num_tokens, embed_dims)


@MODELS.register_module()
class TunableVideoViT(TunableBackboneMixin, VisionTransformer):
    """VideoMAE ViT with build-time freezing, fused attention and no wasted
    autograd. Linear probing and full fine-tuning are configurations of it.

    Accepts every argument of mmaction2's ``VisionTransformer`` (by keyword;
    unknown keywords are an error, not silently ignored) plus:

    Args:
        tuning (str): ``'peft'``: every stock parameter is frozen except the
            final feature norm when ``train_final_norm``; the method's own
            modules (adapters, prompts) train. ``'full'``: everything trains.
        train_final_norm (bool): Train the final norm (``fc_norm``, or ``norm``
            when ``use_mean_pooling=False``) under ``'peft'``. Default True,
            as in AdaptFormer's video runs.
        attn_impl (str): ``'sdpa'`` (fused, default) or ``'eager'`` (the stock
            softmax(QK^T)V). Same parameters, same math.
        with_cp (bool): Activation checkpointing of every block that runs
            with autograd during training.
        skip_frozen_grad (bool): Run the patch embedding and all blocks below
            the lowest block holding a trainable parameter under
            ``torch.no_grad()``. Gradients are unchanged (nothing below needs
            one); no graph or saved activation is kept there even if the
            input requires grad. Default True.

    Shapes:
        input ``(B, C, T, H, W)``; output ``(B, d)`` (mean of patch tokens
        then ``fc_norm``), or ``(B, d, T/t, H/p, W/p)`` with
        ``return_feat_map=True``.
    """

    stock_backbone = VisionTransformer
    registry = MODELS
    family_name = 'VideoViT'

    def __init__(self,
                 *,
                 tuning: str = 'peft',
                 train_final_norm: bool = True,
                 attn_impl: str = 'sdpa',
                 with_cp: bool = False,
                 skip_frozen_grad: bool = True,
                 **kwargs) -> None:
        stock = check_build_kwargs(type(self), tuning, kwargs)
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(
                f'attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}')
        super().__init__(**kwargs)

        self.train_final_norm = train_final_norm
        self.attn_impl = attn_impl
        self.depth = stock['depth']
        self.tubelet_size = stock['tubelet_size']
        # Token grid the stored ``pos_embed`` was built for.
        self.pos_grid = (stock['num_frames'] // stock['tubelet_size'],
                         *self.grid_size)
        self.final_norm_name = 'fc_norm' if self.fc_norm is not None \
            else 'norm'
        self.setup_tunable(tuning, with_cp=with_cp,
                           skip_frozen_grad=skip_frozen_grad,
                           train_final_norm=train_final_norm)

    # ------------------------------------------------------------- forward
    blocks_attr = 'blocks'
    embed_attrs = ('patch_embed', 'pos_embed')

    def embed(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int, int]]:
        """Patch embedding + position embedding + dropout: ``(B, N, d)``, and
        the token grid ``(T/t, H/p, W/p)``."""
        _, _, t, h, w = x.shape
        grid = (t // self.tubelet_size, h // self.patch_size,
                w // self.patch_size)
        x = self.patch_embed(x)[0]
        x = x + self.pos_embed_for(grid).to(dtype=x.dtype)
        return self.pos_drop(x), grid

    def pos_embed_for(self, grid: Tuple[int, int, int]) -> Tensor:
        """Position table ``(1, t*h*w, d)`` for a token grid.

        The fixed sinusoid table is regenerated for the grid's token count,
        which is what VideoMAE does when built for that input (8 frames get
        the first half of the 16-frame table). A learnable table is
        interpolated trilinearly over (t, h, w).
        """
        if tuple(grid) == self.pos_grid:
            return self.pos_embed
        if isinstance(self.pos_embed, nn.Parameter):
            return _resize_table(self.pos_embed, self.pos_grid, grid)
        num_tokens = grid[0] * grid[1] * grid[2]
        return _sinusoid_table(num_tokens, self.embed_dims).to(
            self.pos_embed.device)

    def attn_branch(self, block: Block, x: Tensor) -> Tensor:
        """``DropPath(gamma_1 * Attn(LN1(x)))`` with the configured kernel."""
        y = self.attention(block.attn, block.norm1(x))
        if hasattr(block, 'gamma_1'):
            y = block.gamma_1 * y
        return block.drop_path(y)

    def mlp_branch(self, block: Block, x: Tensor) -> Tensor:
        """``DropPath(gamma_2 * MLP(LN2(x)))``."""
        y = block.mlp(block.norm2(x))
        if hasattr(block, 'gamma_2'):
            y = block.gamma_2 * y
        return block.drop_path(y)

    def attention(self, attn: Attention, x: Tensor) -> Tensor:
        """Multi-head self-attention of the stock module's parameters.

        ``(B, N, d) -> (B, N, d)``. The key bias is zero (VideoMAE learns only
        q and v biases, beside a bias-free ``qkv``). ``qkv`` and ``proj`` are
        called as modules, so a method that wraps them (LoRA) needs nothing
        here.
        """
        b, n, c = x.shape
        qkv = attn.qkv(x)
        if hasattr(attn, 'q_bias'):
            qkv = qkv + torch.cat(
                (attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))
        qkv = qkv.reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.attn_impl == 'sdpa':
            drop = attn.attn_drop.p if attn.attn_drop.training else 0.0
            x = F.scaled_dot_product_attention(
                q, k, v, dropout_p=drop, scale=attn.scale)
        else:
            weights = (q * attn.scale) @ k.transpose(-2, -1)
            x = attn.attn_drop(weights.softmax(dim=-1)) @ v
        x = x.transpose(1, 2).reshape(b, n, -1)
        return attn.proj_drop(attn.proj(x))

    def readout(self, x: Tensor, grid: Tuple[int, int, int], index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None
                ) -> Tensor:
        """The stock readout on patch tokens ``(B, t*h*w, d)``: ``norm``,
        then the mean then ``fc_norm`` (``pool`` replaces the mean), the
        first token without mean pooling, or the token map with
        ``return_feat_map``."""
        x = self.norm(x)
        if pool is not None:
            return self.fc_norm(pool(x, 0))
        if self.return_feat_map:
            return x.reshape(x.shape[0], *grid, self.embed_dims).permute(
                0, 4, 1, 2, 3)
        if self.fc_norm is not None:
            return self.fc_norm(x.mean(1))
        return x[:, 0]

    def cls_readout_error(self) -> Optional[str]:
        return ('the VideoMAE ViT has none; valid here: None, '
                "'image_pool', 'prompt_pool', 'global_pool'")

    def pool_readout_error(self) -> Optional[str]:
        if self.return_feat_map or self.fc_norm is None:
            return ('is a mean of tokens then fc_norm: it needs '
                    'use_mean_pooling=True and return_feat_map=False')
        return None

    # ------------------------------------------------------------- loading
    def deterministic_keys(self):
        # The fixed sinusoid table is a function of the shape, not a weight.
        return () if isinstance(self.pos_embed, nn.Parameter) \
            else ('pos_embed', )

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        key = prefix + 'pos_embed'
        if key in state_dict and \
                state_dict[key].shape != self.pos_embed.shape:
            state_dict[key] = self._fit_pos_table(key, state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _fit_pos_table(self, key: str, table: Tensor) -> Tensor:
        """A checkpoint table for another frame count or size, made to fit.

        A fixed sinusoid table depends only on the token count, and ours is
        already right for ``num_frames`` x ``img_size``. A learnable table
        ``(1, t*h*w, d)`` is resized from its own token grid, read by
        :func:`_source_grid`, to this model's: bicubic over space at every
        time step (as mmaction2 and mmpretrain resize position tables), then
        linear over time at every position. A table whose grid cannot be
        known (several grids fit its token count) is an error naming the
        key, the grids that fit and this model's grid.
        """
        if not isinstance(self.pos_embed, nn.Parameter):
            print_log(
                f'{key}: checkpoint table {tuple(table.shape)} is for another '
                f'frame count or size; using the sinusoid table for '
                f'{tuple(self.pos_embed.shape)} instead.',
                logger='current')
            return self.pos_embed.detach().clone()
        if table.dim() != 3 or table.shape[0] != 1 or \
                table.shape[-1] != self.embed_dims:
            raise ValueError(
                f'{key}: checkpoint table {tuple(table.shape)} cannot fit '
                f'this model\'s {tuple(self.pos_embed.shape)}: expected '
                f'(1, t*h*w, {self.embed_dims})')
        src, fits = _source_grid(table, self.pos_grid)
        if src is None:
            raise ValueError(
                f'{key}: checkpoint table {tuple(table.shape)} is not for '
                f'this model\'s {_fmt(self.pos_grid)} (T x H x W) token grid, '
                f'and its own grid cannot be known: {table.shape[1]} tokens '
                f'fit {", ".join(_fmt(g) for g in fits) or "no grid"} (T x H '
                f'x W grids of this model\'s aspect) and the table is not '
                f'tiled over time. Build the backbone with the checkpoint\'s '
                f'num_frames and img_size (inputs of other sizes are then '
                f'resized at run time), or, for an image ViT, inflate it for '
                f'this model: '
                f'tools/inflate_image_to_video.py --num-frames '
                f'{self.pos_grid[0] * self.tubelet_size} --img-size '
                f'{self.pos_grid[1] * self.patch_size}.')
        print_log(
            f'{key}: learnable table of the checkpoint\'s {_fmt(src)} token '
            f'grid (T x H x W) resized to this model\'s '
            f'{_fmt(self.pos_grid)}: bicubic over space, then linear over '
            f'time.',
            logger='current',
            level=logging.INFO)
        return _resize_space_then_time(table, src, self.pos_grid).detach()


def _fmt(grid: Grid) -> str:
    return 'x'.join(str(n) for n in grid)


def _constant_over_time(table: Tensor, steps: int) -> bool:
    """Whether ``table`` ``(1, N, d)`` is ``steps`` exact copies of its first
    ``N / steps`` tokens (a table tiled over time)."""
    per_step = table.reshape(steps, -1)
    return bool((per_step == per_step[:1]).all())


def _source_grid(table: Tensor, dst: Grid
                 ) -> Tuple[Optional[Grid], List[Grid]]:
    """The token grid ``(t, h, w)`` a ``(1, N, d)`` table was built for, or
    None when it cannot be known; and the grids that fit ``N``.

    The grids that fit are those of ``N`` tokens whose spatial grid has the
    aspect of ``dst`` (square for mmaction2's ViT): ``(N / (a*b*k^2), a*k,
    b*k)``. The count alone rarely decides (784 = 4x14x14 = 16x7x7 =
    196x2x2 = ...). A table tiled over time does: it is exact copies over
    the ``t`` steps of its own grid (and of steps dividing ``t``), and by
    chance over no other. Every table of ``tools/inflate_image_to_video.py``
    is one (an image table repeated per frame), and stays one while frozen.
    The grid with the most time steps of exact copies is taken; with none,
    the only grid that fits; otherwise None. (A table equal at every token,
    such as an untrained zero table, is copies over every grid and resizes
    to itself whichever is taken.)
    """
    n = table.shape[1]
    _, h, w = dst
    unit = math.gcd(h, w)
    a, b = h // unit, w // unit
    fits = [(n // (a * b * k * k), a * k, b * k)
            for k in range(1, math.isqrt(n // (a * b)) + 1)
            if n % (a * b * k * k) == 0]  # most time steps first
    tiled = [g for g in fits if g[0] > 1 and _constant_over_time(table, g[0])]
    if tiled:
        return tiled[0], fits
    return (fits[0] if len(fits) == 1 else None), fits


def _resize_space_then_time(table: Tensor, src: Grid, dst: Grid) -> Tensor:
    """Separable resize of a ``(1, t*h*w, d)`` table from grid ``src`` to
    ``dst``: bicubic over ``(h, w)`` at every time step, then linear over
    ``t`` at every position (token order t, h, w as the Conv3d patch
    embedding flattens). A table constant over time stays so exactly (its
    steps are repeated): linear interpolation between equal values."""
    (t, h, w), (t2, h2, w2), d = src, dst, table.shape[-1]
    grid = table.reshape(t, h, w, d).permute(0, 3, 1, 2).float()
    if (h, w) != (h2, w2):
        grid = F.interpolate(grid, size=(h2, w2), mode='bicubic',
                             align_corners=False)  # (t, d, h2, w2)
    if t != t2:
        if _constant_over_time(grid, t):
            grid = grid[:1].expand(t2, -1, -1, -1)
        else:
            per_position = grid.permute(1, 2, 3, 0).reshape(1, -1, t)
            grid = F.interpolate(per_position, size=t2, mode='linear',
                                 align_corners=False).reshape(
                                     d, h2, w2, t2).permute(3, 0, 1, 2)
    return grid.permute(0, 2, 3, 1).reshape(1, t2 * h2 * w2, d).to(
        table.dtype)


def _resize_table(table: Tensor, src: Tuple[int, int, int],
                  dst: Tuple[int, int, int]) -> Tensor:
    """Trilinear resize of a ``(1, t*h*w, d)`` table from grid ``src`` to
    ``dst`` (token order t, h, w as the Conv3d patch embedding flattens)."""
    d = table.shape[-1]
    grid = table.reshape(1, *src, d).permute(0, 4, 1, 2, 3)
    grid = F.interpolate(
        grid.float(), size=tuple(dst), mode='trilinear', align_corners=False)
    return grid.to(table.dtype).permute(0, 2, 3, 4, 1).reshape(
        1, dst[0] * dst[1] * dst[2], d)
