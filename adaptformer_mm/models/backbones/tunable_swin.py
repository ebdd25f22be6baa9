"""mmpretrain's Swin Transformer (``SwinTransformer``), made tunable.

:class:`TunableSwin` subclasses the stock class and keeps every parameter
name, so mmpretrain Swin checkpoints (and Microsoft's files converted by
mmpretrain's ``tools/model_converters/swin_to_mmpretrain.py``) load
unchanged. The stock forward runs block by block
(:class:`~.tunable_swin_base.TunableSwinMixin`, shared with Video Swin), with
build-time freezing, frozen-in-eval, no graph below the first trainable block
and activation checkpointing from :class:`~.tunable_base.TunableBackboneMixin`.

``TunableSwin(tuning='peft')`` is linear probing, ``tuning='full'`` full
fine-tuning.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.swin_transformer import (SwinBlock,
                                                          SwinTransformer)
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from .tunable_swin_base import TunableSwinMixin

__all__ = ['TunableSwin']


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
    stages_attr = 'stages'
    embed_attrs = ('patch_embed', 'absolute_pos_embed')

    @property
    def patch_fan_in(self) -> int:
        """Inputs of one patch projection (``3 * 4 * 4`` for Swin-B)."""
        return int(np.prod(self.patch_embed.projection.weight.shape[1:]))

    # -------------------------------------------------------------- forward
    def embed(self, inputs: Tensor) -> Tensor:
        """Patch embedding (+ norm), absolute positions if any, dropout:
        ``(B, H, W, C)``."""
        x, hw = self.patch_embed(inputs)
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(
                self.absolute_pos_embed, self.patch_resolution, hw,
                self.interpolate_mode, self.num_extra_tokens)
        x = self.drop_after_pos(x)
        return x.view(x.shape[0], *hw, x.shape[-1])

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
            raise ValueError(
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

    def stage_output(self, stage: int, x: Tensor) -> Tensor:
        out = getattr(self, f'norm{stage}')(x)
        return out.permute(0, 3, 1, 2).contiguous()

    def format_outputs(self, outs: List[Tensor]):
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
