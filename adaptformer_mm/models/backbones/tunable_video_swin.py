"""mmaction2's Video Swin Transformer (``SwinTransformer3D``), made tunable.

:class:`TunableVideoSwin` subclasses the stock class and keeps every
parameter name, so mmaction2's Video Swin checkpoints load unchanged (the
original Video-Swin-Transformer files call the last norm ``norm``, mmaction2
``norm3``: rename those two keys). The stock forward runs block by block
(:class:`~.tunable_swin.TunableSwinMixin`), with build-time freezing,
frozen-in-eval, no graph below the first trainable block and activation
checkpointing from :class:`~.tunable_base.TunableBackboneMixin`, the same
code as the ViTs.

``TunableVideoSwin(tuning='peft')`` is linear probing (the head reads the
frozen feature map), ``tuning='full'`` full fine-tuning.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmaction.models.backbones.swin import (SwinTransformer3D,
                                            SwinTransformerBlock3D,
                                            compute_mask, get_window_size,
                                            window_partition, window_reverse)
from mmaction.registry import MODELS
from torch import Tensor, nn

from .tunable_swin import TunableSwinMixin

__all__ = ['TunableVideoSwin']


@MODELS.register_module()
class TunableVideoSwin(TunableSwinMixin, SwinTransformer3D):
    """Video Swin with build-time freezing and no wasted autograd. Linear
    probing and full fine-tuning are configurations of it.

    Arguments: mmaction2 ``SwinTransformer3D``'s and ``tuning``,
    ``train_final_norm`` (the output norms ``norm{i}``, by default the last
    stage's), ``with_cp``, ``skip_frozen_grad``, as
    :class:`~.tunable_base.StandardTunableMixin` says.

    Loading a 2D ImageNet Swin (``pretrained2d=True`` with ``pretrained=``)
    inflates it as the stock model does; a Video Swin checkpoint loads with
    ``pretrained2d=False`` and ``init_cfg=dict(type='Pretrained', ...)``.

    Shapes:
        input ``(B, C, T, H, W)``; output, per ``out_indices``,
        ``(B, C_s, T/2, H/(4*2^s), W/(4*2^s))`` for the default
        ``patch_size=(2, 4, 4)`` (one tensor for one index, else a tuple),
        as the stock model.
    """

    convert_hint = ('none needed for mmaction2 checkpoints; original '
                    'Video-Swin-Transformer files: rename backbone.norm.* '
                    'to backbone.norm3.*')
    stock_backbone = SwinTransformer3D
    registry = MODELS
    family_name = 'VideoSwin'
    stages_attr = 'layers'
    embed_attrs = ('patch_embed', )

    @property
    def patch_fan_in(self) -> int:
        """Inputs of one patch projection (``3 * 2 * 4 * 4`` for Swin-B)."""
        return int(np.prod(self.patch_embed.proj.weight.shape[1:]))

    # -------------------------------------------------------------- forward
    def embed(self, inputs: Tensor) -> Tuple[Tensor, None]:
        """``PatchEmbed3D`` (+ norm) and dropout: ``(B, D, H, W, C)``."""
        x = self.pos_drop(self.patch_embed(inputs))
        return x.permute(0, 2, 3, 4, 1).contiguous(), None

    def window_attention(self, block: SwinTransformerBlock3D, x: Tensor,
                         prompts: Optional[Tensor]
                         ) -> Tuple[Tensor, Optional[Tensor]]:
        """The stock ``forward_part1`` after ``norm1`` (pad to whole
        windows, cyclic shift, window attention, reverse), with optional
        prompts in every window; the mask is the one ``BasicLayer`` builds.
        """
        b, d, h, w, c = x.shape
        window, shift = get_window_size((d, h, w), block.window_size,
                                        block.shift_size)
        # BasicLayer's mask uses the stage's shift (half a window), also for
        # the unshifted blocks, which ignore it.
        _, stage_shift = get_window_size(
            (d, h, w), block.window_size,
            tuple(i // 2 for i in block.window_size))
        pads = [(window[i] - size % window[i]) % window[i]
                for i, size in enumerate((d, h, w))]
        x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        _, dp, hp, wp, _ = x.shape
        shifted = any(i > 0 for i in shift)
        mask = None
        if shifted:
            x = torch.roll(x, shifts=tuple(-i for i in shift), dims=(1, 2, 3))
            mask = compute_mask(dp, hp, wp, window, stage_shift, x.device)
        windows, prompts = self.attend_windows(
            block.attn, window_partition(x, window), prompts, mask)
        x = window_reverse(windows.reshape(-1, *window, c), window, b, dp, hp,
                           wp)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        if any(pads):
            x = x[:, :d, :h, :w, :].contiguous()
        return x, prompts

    def attn_drop_path(self, block: SwinTransformerBlock3D) -> nn.Module:
        return block.drop_path

    def mlp_branch(self, block: SwinTransformerBlock3D, x: Tensor) -> Tensor:
        """The stock ``forward_part2``: ``DropPath(MLP(LN2(x)))``."""
        return block.forward_part2(x)

    def merge(self, stage: int, x: Tensor) -> Tensor:
        return self.layers[stage].downsample(x)

    def format_outputs(self, outs: List[Tensor]):
        return outs[0] if len(outs) == 1 else tuple(outs)
