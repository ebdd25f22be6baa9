"""The Swin families' shared skeleton, and the image Swin family:
mmpretrain's Swin Transformer (``SwinTransformer``), made tunable.

:class:`TunableSwin` subclasses the stock class and keeps every parameter
name, so mmpretrain Swin checkpoints (and Microsoft's files converted by
mmpretrain's ``tools/model_converters/swin_to_mmpretrain.py``) load
unchanged. The stock forward runs block by block
(:class:`TunableSwinMixin` below, shared with Video Swin), with
build-time freezing, frozen-in-eval, no graph below the first trainable block
and activation checkpointing from :class:`~.tunable_base.TunableBackboneMixin`.

``TunableSwin(tuning='peft')`` is linear probing, ``tuning='full'`` full
fine-tuning.

:class:`TunableSwinMixin` (the part shared with Video Swin) sees the stages'
blocks as one sequence (block ``i`` counts over all stages, stage 0 first:
Swin-B's 2/2/18/2 blocks are 0-1, 2-3, 4-21, 22-23) and runs the stock
forward block by block, so a method changes single blocks as on a ViT.
Tokens travel between blocks as a grid ``(B, *grid, C)`` (video ``(B, D, H,
W, C)``, image ``(B, H, W, C)``), so a block knows its window layout from the
tensor. A Swin family provides, beside the protocol's hooks, the stage
``ModuleList`` (``stages_attr``), ``window_attention(block, x, prompts)``,
``attn_drop_path(block)`` and ``merge(stage, x)``.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.swin_transformer import (SwinBlock,
                                                          SwinTransformer)
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from adaptformer_mm.peft.swin_adapter import SwinAdapterConfig
from adaptformer_mm.peft.swin_prompt import prompted_window_attention
from .tunable_base import StandardTunableMixin

__all__ = ['TunableSwinMixin', 'TunableSwin', 'WindowSizeError']


class WindowSizeError(ValueError, AssertionError):
    """An input smaller than the window without ``pad_small_map``: the stock
    ``ShiftWindowMSA`` raises ``AssertionError`` here, so code written for it
    catches this too."""


class TunableSwinMixin(StandardTunableMixin):
    """Block-by-block stock forward of a hierarchical Swin (see the module
    docstring). The constructor is
    :class:`~.tunable_base.StandardTunableMixin`'s; under ``'peft'`` with
    ``train_final_norm`` the output norms ``norm{i}`` (``i`` in
    ``out_indices``) train."""

    #: Name of the stock ``ModuleList`` of stages (``'layers'`` in mmaction2,
    #: ``'stages'`` in mmpretrain).
    stages_attr: str = ''
    token_layout = 'windows'
    method_configs = {'adapter_cfg': SwinAdapterConfig}

    def prepare_tunable(self, stock: Dict[str, object]) -> None:
        """Index the blocks over the stages."""
        stages = self.swin_stages
        # A plain list: the blocks stay registered under their stock names
        # only (a ModuleList would add a second name to every state key).
        self._swin_blocks = [b for stage in stages for b in stage.blocks]
        self._block_stage = tuple(
            s for s, stage in enumerate(stages) for _ in stage.blocks)
        self._stage_widths = tuple(stage.embed_dims for stage in stages)

    @property
    def block_stage(self) -> Tuple[int, ...]:
        return self._block_stage

    @property
    def stage_widths(self) -> Tuple[int, ...]:
        return self._stage_widths

    def final_norm_names(self) -> Sequence[str]:
        return [f'norm{i}' for i in self.out_indices]

    # ------------------------------------------------------------ structure
    @property
    def swin_stages(self) -> nn.ModuleList:
        return getattr(self, self.stages_attr)

    @property
    def tunable_blocks(self) -> List[nn.Module]:
        """Every block of every stage, stage 0 first."""
        return self._swin_blocks

    def deterministic_keys(self) -> Sequence[str]:
        # Relative position indices are a function of the window size.
        return [k for k in self.state_dict()
                if k.endswith('relative_position_index')]

    # -------------------------------------------------------------- forward
    def after_block(self, index: int, x: Tensor, ctx: None,
                    outs: List[Tensor]) -> Tensor:
        """After a stage's last block: its output (``norm{s}``) and the
        patch merging, in the stock order (``out_after_downsample``)."""
        s = self.block_stage[index]
        last = len(self.block_stage) - 1
        if index != last and self.block_stage[index + 1] == s:
            return x  # not the stage's last block
        stage = self.swin_stages[s]
        after = self.out_after_downsample
        if stage.downsample is not None and after:
            x = self.merge(s, x)
        if s in self.out_indices:
            outs.append(self.readout(x, ctx, index))
        if stage.downsample is not None and not after:
            x = self.merge(s, x)
        return x

    def readout(self, x: Tensor, ctx: None, index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None
                ) -> Tensor:
        """``norm{s}`` of the stage of block ``index`` and the stock layout
        ``(B, C, *grid)``; ``pool`` reads the last stage's normed tokens
        ``(B, n, C)`` instead, giving a ``(B, C, 1, ...)`` map that the
        stock neck / head pooling passes through unchanged."""
        s = self.block_stage[index]
        out = getattr(self, f'norm{s}')(x)
        if pool is not None and s == len(self.swin_stages) - 1:
            pooled = pool(out.reshape(out.shape[0], -1, out.shape[-1]), 0)
            return pooled.reshape(*pooled.shape, *(1, ) * (x.dim() - 2))
        return out.permute(0, x.dim() - 1, *range(1, x.dim() - 1)
                           ).contiguous()

    def pool_readout_error(self) -> Optional[str]:
        last = len(self.swin_stages) - 1
        if last not in self.out_indices:
            return (f'reads the last stage\'s tokens: it needs {last} in '
                    f'out_indices, got out_indices={list(self.out_indices)}')
        return None

    def attn_branch(self, block: nn.Module, x: Tensor) -> Tensor:
        """``DropPath(W-MSA(LN1(x)))`` (shifted windows in odd blocks)."""
        y, _ = self.window_attention(block, block.norm1(x), None)
        return self.attn_drop_path(block)(y)

    def attend_windows(self, attn: nn.Module, windows: Tensor,
                       prompts: Optional[Tensor], mask: Optional[Tensor]
                       ) -> Tuple[Tensor, Optional[Tensor]]:
        """Windows ``(B*nW, n, C)`` through the stock window attention
        ``attn`` (mmpretrain's ``WindowMSA``, mmaction2's
        ``WindowAttention3D``: the same attribute names), its relative
        position bias for ``n`` tokens and the shift ``mask``, with optional
        prompts
        (:func:`~adaptformer_mm.peft.swin_prompt.prompted_window_attention`).
        """
        n = windows.shape[1]
        bias = attn.relative_position_bias_table[
            attn.relative_position_index[:n, :n].reshape(-1)].reshape(
                n, n, -1).permute(2, 0, 1).contiguous()
        return prompted_window_attention(
            windows,
            prompts,
            qkv=attn.qkv,
            proj=attn.proj,
            num_heads=attn.num_heads,
            scale=attn.scale,
            bias=bias,
            mask=mask,
            attn_drop=attn.attn_drop,
            proj_drop=attn.proj_drop)

    # Stock parts, per backbone.
    def window_attention(self, block: nn.Module, x: Tensor,
                         prompts: Optional[Tensor]
                         ) -> Tuple[Tensor, Optional[Tensor]]:
        """The block's (shifted) window attention on a normalised grid, with
        optional prompts joining every window
        (:func:`~adaptformer_mm.peft.swin_prompt.prompted_window_attention`).
        """
        raise NotImplementedError

    def attn_drop_path(self, block: nn.Module) -> nn.Module:
        """The drop-path of the attention branch."""
        raise NotImplementedError

    def merge(self, stage: int, x: Tensor) -> Tensor:
        """The stock patch merging after ``stage``: ``(B, *grid, C)`` to
        ``(B, *grid/2, 2C)`` (height and width halved)."""
        raise NotImplementedError


@MODELS.register_module()
class TunableSwin(TunableSwinMixin, SwinTransformer):
    """mmpretrain Swin with build-time freezing and no wasted autograd.
    Linear probing and full fine-tuning are configurations of it.

    Arguments: mmpretrain ``SwinTransformer``'s and ``tuning``,
    ``train_final_norm`` (the output norms ``norm{i}``, ``i`` in
    ``out_indices``), ``with_cp``, ``skip_frozen_grad``, as
    :class:`~.tunable_base.StandardTunableMixin` says.

    Shapes:
        input ``(B, C, H, W)``; output a tuple with one
        ``(B, C_s, H/(4*2^s), W/(4*2^s))`` per ``out_indices`` (patch size
        4), as the stock model.
    """

    convert_hint = ('mmpretrain\'s tools/model_converters/'
                    'swin_to_mmpretrain.py for Microsoft\'s files')
    stock_backbone = SwinTransformer
    registry = MODELS
    family_name = 'Swin'
    method_defaults = {'adapter_cfg': dict(dropout=0.1)}
    stages_attr = 'stages'
    embed_attrs = ('patch_embed', 'absolute_pos_embed')

    @property
    def patch_fan_in(self) -> int:
        """Inputs of one patch projection (``3 * 4 * 4`` for Swin-B)."""
        return int(np.prod(self.patch_embed.projection.weight.shape[1:]))

    @property
    def readout_heads(self) -> int:
        return self.tunable_blocks[-1].attn.w_msa.num_heads

    # -------------------------------------------------------------- forward
    def embed(self, inputs: Tensor) -> Tuple[Tensor, None]:
        """Patch embedding (+ norm), absolute positions if any, dropout:
        ``(B, H, W, C)``."""
        x, hw = self.patch_embed(inputs)
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(
                self.absolute_pos_embed, self.patch_resolution, hw,
                self.interpolate_mode, self.num_extra_tokens)
        x = self.drop_after_pos(x)
        return x.view(x.shape[0], *hw, x.shape[-1]), None

    def window_attention(self, block: SwinBlock, x: Tensor,
                         prompts: Optional[Tensor]
                         ) -> Tuple[Tensor, Optional[Tensor]]:
        """The stock ``ShiftWindowMSA.forward`` without its final drop-path
        (pad to whole windows, cyclic shift, window attention, reverse), with
        optional prompts in every window."""
        msa = block.attn
        b, h, w, c = x.shape
        window, shift = msa.window_size, msa.shift_size
        if min(h, w) == window:
            # As the stock model (and the original Swin): no shift when one
            # window covers the map, unless small maps are padded.
            shift = shift if msa.pad_small_map else 0
        elif min(h, w) < window and not msa.pad_small_map:
            raise WindowSizeError(
                f'The input shape ({h}, {w}) is smaller than the window size '
                f'({window}). Please set `pad_small_map=True`, or decrease '
                f'the `window_size`.')
        pad_r = (window - w % window) % window
        pad_b = (window - h % window) % window
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = x.shape[1], x.shape[2]
        if shift > 0:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        mask = msa.get_attn_mask((hp, wp), window_size=window,
                                 shift_size=shift, device=x.device)
        windows, prompts = self.attend_windows(
            msa.w_msa,
            msa.window_partition(x, window).view(-1, window * window, c),
            prompts, mask)
        x = msa.window_reverse(windows.reshape(-1, window, window, c), hp, wp,
                               window)
        if shift > 0:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        if hp != h or wp != w:
            x = x[:, :h, :w, :].contiguous()
        return x, prompts

    def attn_drop_path(self, block: SwinBlock) -> nn.Module:
        return block.attn.drop

    def mlp_branch(self, block: SwinBlock, x: Tensor) -> Tensor:
        """``DropPath(MLP(LN2(x)))``: the stock FFN with a zero identity, so
        its own layer scale and drop-path apply unchanged."""
        return block.ffn(block.norm2(x), identity=x.new_zeros(()))

    def merge(self, stage: int, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        x, hw = self.stages[stage].downsample(x.reshape(b, h * w, c), (h, w))
        return x.view(b, *hw, x.shape[-1])

    def format_outputs(self, outs: List[Tensor]) -> Tuple[Tensor, ...]:
        return tuple(outs)

    # -------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              *args, **kwargs) -> None:
        # The stock method renames old checkpoints' keys only for its own
        # class: the same here (version < 2: the final 'norm.' is
        # 'norm{last}.'; version < 3: no 'attn_mask' buffers).
        version = local_metadata.get('version', None)
        if version is None or version < 2:
            last = len(self.stages) - 1
            for k in list(state_dict):
                if k.startswith(prefix + 'norm.'):
                    state_dict[prefix + f'norm{last}.' +
                               k[len(prefix + 'norm.'):]] = state_dict.pop(k)
        if version is None or version < 3:
            for k in list(state_dict):
                if k.startswith(prefix) and 'attn_mask' in k:
                    del state_dict[k]
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)
