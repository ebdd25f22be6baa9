"""The shared video backbone: mmaction2's VideoMAE ViT, made tunable.

:class:`TunableVideoViT` subclasses mmaction2's ``VisionTransformer`` and keeps
every parameter name, so any mmaction2 VideoMAE checkpoint loads unchanged. It
adds what AdaptFormer, VPT and the paper's baselines share:

* freezing decided at build time (``tuning='peft'`` or ``'full'``), so DDP,
  resume and test see the same trainable set; frozen parts run with dropout
  and drop-path off even in ``train()`` mode;
* fused attention (``F.scaled_dot_product_attention``) by default, the stock
  eager math as ``attn_impl='eager'``;
* no autograd graph below the lowest block that holds a trainable parameter,
  and optional activation checkpointing (``with_cp``);
* position tables for any frame count or resolution;
* a plain report of pretrained tensors that a checkpoint did not fill.

``TunableVideoViT(tuning='peft')`` is linear probing (only ``fc_norm`` and the
head train); ``tuning='full'`` is full fine-tuning.
"""
import functools
import inspect
import logging
from typing import Iterator, List, Tuple

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import (Attention, Block,
                                               VisionTransformer,
                                               get_sinusoid_encoding)
from mmaction.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from adaptformer_mm.peft import (ParamSummary, keep_in_eval, set_trainable,
                                 summarize_parameters, tunable_state_dict)

TUNINGS = ('peft', 'full')
ATTN_IMPLS = ('sdpa', 'eager')
_STOCK_SIGNATURE = inspect.signature(VisionTransformer.__init__)
_STOCK_ARGS = tuple(
    name for name, p in _STOCK_SIGNATURE.parameters.items()
    if name != 'self' and p.kind is not inspect.Parameter.VAR_KEYWORD)


@functools.lru_cache(maxsize=16)
def _sinusoid_table(num_tokens: int, embed_dims: int) -> Tensor:
    return get_sinusoid_encoding(num_tokens, embed_dims)


@MODELS.register_module()
class TunableVideoViT(VisionTransformer):
    """VideoMAE ViT with build-time freezing, fused attention and no wasted
    autograd. Linear probing and full fine-tuning are configurations of it.

    Accepts every argument of mmaction2's ``VisionTransformer`` (by keyword;
    unknown keywords are an error, not silently ignored) plus:

    Args:
        tuning (str): ``'peft'``: every stock parameter is frozen except the
            final feature norm when ``train_fc_norm``; the method's own
            modules (adapters, prompts) train. ``'full'``: everything trains.
        train_fc_norm (bool): Train the final norm (``fc_norm``, or ``norm``
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
            input requires grad, and autograd bookkeeping is skipped.
            Default True.

    Shapes:
        input ``(B, C, T, H, W)``; output ``(B, d)`` (mean of patch tokens
        then ``fc_norm``), or ``(B, d, T/t, H/p, W/p)`` with
        ``return_feat_map=True``.
    """

    def __init__(self,
                 *,
                 tuning: str = 'peft',
                 train_fc_norm: bool = True,
                 attn_impl: str = 'sdpa',
                 with_cp: bool = False,
                 skip_frozen_grad: bool = True,
                 **kwargs) -> None:
        unknown = sorted(set(kwargs) - set(_STOCK_ARGS))
        if unknown:
            raise TypeError(
                f'{type(self).__name__} got unknown argument(s) {unknown}; '
                f'valid: {list(_STOCK_ARGS)} and tuning, train_fc_norm, '
                f'attn_impl, with_cp, skip_frozen_grad')
        if tuning not in TUNINGS:
            raise ValueError(
                f'tuning must be one of {TUNINGS}, got {tuning!r}')
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(
                f'attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}')
        stock = _STOCK_SIGNATURE.bind_partial(None, **kwargs)
        stock.apply_defaults()
        stock = stock.arguments
        super().__init__(**kwargs)

        self.tuning = tuning
        self.train_fc_norm = train_fc_norm
        self.attn_impl = attn_impl
        self.with_cp = with_cp
        self.skip_frozen_grad = skip_frozen_grad
        self.depth = stock['depth']
        self.tubelet_size = stock['tubelet_size']
        # Token grid the stored ``pos_embed`` was built for.
        self.pos_grid = (stock['num_frames'] // stock['tubelet_size'],
                         *self.grid_size)

        # Everything the stock model built is "pretrained"; the method's
        # modules added below are not. Recorded before they exist.
        self._stock_modules = [n for n, _ in self.named_modules() if n]
        self._stock_keys = list(self.state_dict())
        self.final_norm_name = 'fc_norm' if self.fc_norm is not None \
            else 'norm'

        self.build_method_modules()
        self._freeze()
        print_log(f'{type(self).__name__} (tuning={tuning!r}):\n'
                  f'{self.tunable_summary().format()}', logger='current')

    # ------------------------------------------------------------ building
    def build_method_modules(self) -> None:
        """Add the method's trainable modules; called once by ``__init__``
        after the stock ViT exists and before freezing. None here."""

    def _freeze(self) -> None:
        """Stock parameters train only under ``'full'`` (or the final norm
        with ``train_fc_norm``); parameters the method added always train."""
        stock = set(self._stock_keys)
        norm = self.final_norm_name + '.'

        def trainable(name: str) -> bool:
            if name not in stock or self.tuning == 'full':
                return True
            return self.train_fc_norm and name.startswith(norm)

        set_trainable(self, trainable)
        if self.tuning == 'full':
            self._frozen_modules: List[str] = []
        else:
            trained_norm = self.final_norm_name if self.train_fc_norm else None
            self._frozen_modules = [
                n for n in self._stock_modules if n != trained_norm]

    def train(self, mode: bool = True) -> 'TunableVideoViT':
        """Stock modules that are frozen stay in eval mode (no dropout, no
        drop-path); the method's modules follow ``mode``."""
        super().train(mode)
        if mode:
            keep_in_eval(self, self._frozen_modules)
        return self

    def tunable_summary(self) -> ParamSummary:
        """Trainable / all parameter counts and trainable groups."""
        return summarize_parameters(self)

    def tunable_state_dict(self):
        """State of the trainable groups only (see
        :func:`adaptformer_mm.peft.tunable_state_dict`)."""
        return tunable_state_dict(self)

    # ------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        grid = self.token_grid(x)
        grad = torch.is_grad_enabled()
        start = self.first_grad_block() if self.skip_frozen_grad else -1
        with torch.set_grad_enabled(grad and start < 0):
            x = self.embed(x, grid)
        for i in range(len(self.blocks)):
            with torch.set_grad_enabled(grad and i >= start):
                if self.with_cp and self.training and grad and i >= start:
                    x = checkpoint(
                        self.forward_block, i, x, use_reentrant=False)
                else:
                    x = self.forward_block(i, x)
        return self.pool(x, grid)

    def token_grid(self, x: Tensor) -> Tuple[int, int, int]:
        """``(T/t, H/p, W/p)`` of the Conv3d patch embedding for ``x``."""
        _, _, t, h, w = x.shape
        return (t // self.tubelet_size, h // self.patch_size,
                w // self.patch_size)

    def embed(self, x: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        """Patch embedding + position embedding + dropout: ``(B, N, d)``."""
        x = self.patch_embed(x)[0]
        x = x + self.pos_embed_for(grid).to(dtype=x.dtype)
        return self.pos_drop(x)

    def pos_embed_for(self, grid: Tuple[int, int, int]) -> Tensor:
        """Position table ``(1, t*h*w, d)`` for a token grid.

        The fixed sinusoid table is regenerated for the grid's token count,
        which is what VideoMAE does when built for that input (8 frames get
        the first half of the 16-frame table). A learnable table is
        interpolated trilinearly over (t, h, w).
        """
        if tuple(grid) == self.pos_grid:
            return self.pos_embed
        num_tokens = grid[0] * grid[1] * grid[2]
        if isinstance(self.pos_embed, nn.Parameter):
            table = self.pos_embed.reshape(1, *self.pos_grid, self.embed_dims)
            table = F.interpolate(
                table.permute(0, 4, 1, 2, 3),
                size=tuple(grid),
                mode='trilinear',
                align_corners=False)
            return table.permute(0, 2, 3, 4, 1).reshape(
                1, num_tokens, self.embed_dims)
        return _sinusoid_table(num_tokens, self.embed_dims).to(
            self.pos_embed.device)

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        """Block ``index``: ``x' = x + Attn(LN1(x)); x' + MLP(LN2(x'))``."""
        block = self.blocks[index]
        x = x + self.attn_branch(block, x)
        return x + self.mlp_branch(block, x)

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
        q and v biases).
        """
        b, n, c = x.shape
        if hasattr(attn, 'q_bias'):
            bias = torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias),
                              attn.v_bias))
            qkv = F.linear(x, attn.qkv.weight, bias)
        else:
            qkv = attn.qkv(x)
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

    def pool(self, x: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        """Stock head of the backbone on patch tokens ``(B, t*h*w, d)``."""
        x = self.norm(x)
        if self.return_feat_map:
            return x.reshape(x.shape[0], *grid, self.embed_dims).permute(
                0, 4, 1, 2, 3)
        if self.fc_norm is not None:
            return self.fc_norm(x.mean(1))
        return x[:, 0]

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        """Parameters that make block ``index`` need autograd."""
        return self.blocks[index].parameters()

    def first_grad_block(self) -> int:
        """Lowest block index that holds a trainable parameter; ``-1`` when
        the embedding stage trains, ``depth`` when no block does."""
        embed_params = list(self.patch_embed.parameters())
        if isinstance(self.pos_embed, nn.Parameter):
            embed_params.append(self.pos_embed)
        if any(p.requires_grad for p in embed_params):
            return -1
        for i in range(len(self.blocks)):
            if any(p.requires_grad for p in self.block_params(i)):
                return i
        return len(self.blocks)

    # ------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        key = prefix + 'pos_embed'
        if (key in state_dict and not isinstance(self.pos_embed, nn.Parameter)
                and state_dict[key].shape != self.pos_embed.shape):
            # A fixed sinusoid table depends only on the token count; ours is
            # already right for ``num_frames`` x ``img_size``.
            print_log(
                f'{key}: checkpoint table {tuple(state_dict[key].shape)} is '
                f'for another frame count or size; using the sinusoid table '
                f'for {tuple(self.pos_embed.shape)} instead.',
                logger='current')
            state_dict[key] = self.pos_embed.detach().clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self._report_load(state_dict, prefix)

    def _report_load(self, state_dict, prefix: str) -> None:
        """Name every backbone tensor the checkpoint did not fill.

        Frozen pretrained tensors left at their init are the dangerous case
        (the reference code silently re-initialised and unfroze them): they
        get a WARNING. Freezing never depends on what loaded.
        """
        own = self.state_dict()
        # The fixed sinusoid table is a function of the shape, not a weight.
        deterministic = set() if isinstance(self.pos_embed, nn.Parameter) \
            else {'pos_embed'}
        missing = [
            k for k in own
            if prefix + k not in state_dict and k not in deterministic
        ]
        unexpected = sorted(
            k[len(prefix):] for k in state_dict
            if k.startswith(prefix) and k[len(prefix):] not in own)
        stock = set(self._stock_keys)
        params = dict(self.named_parameters())
        frozen = [k for k in missing if k in stock and not (
            k in params and params[k].requires_grad)]
        trained = [k for k in missing if k in stock and k not in frozen]
        method = [k for k in missing if k not in stock]
        where = f' (under prefix {prefix!r})' if prefix else ''
        if frozen:
            print_log(
                f'{type(self).__name__}{where}: {len(frozen)} FROZEN '
                f'pretrained tensor(s) were NOT in the checkpoint and keep '
                f'their initial values (they stay frozen): {frozen}. Is the '
                f'checkpoint in mmaction2 layout (tools/convert_ckpt.py) and '
                f'does init_cfg need prefix="backbone."?',
                logger='current',
                level=logging.WARNING)
        if trained:
            print_log(
                f'{type(self).__name__}{where}: trainable pretrained '
                f'tensor(s) not in the checkpoint start from their init: '
                f'{trained}',
                logger='current',
                level=logging.WARNING)
        if method:
            print_log(
                f'{type(self).__name__}{where}: {len(method)} method '
                f'tensor(s) not in the checkpoint start from their init '
                f'(expected when loading a pretrained backbone).',
                logger='current')
        if unexpected:
            print_log(
                f'{type(self).__name__}{where}: checkpoint tensors with no '
                f'place in this backbone were ignored: {unexpected}',
                logger='current',
                level=logging.WARNING)
