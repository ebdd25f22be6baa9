"""The shared image backbone: mmpretrain's ViT (with CLS token), made tunable.

:class:`TunableViT` subclasses mmpretrain's ``VisionTransformer`` and keeps
every parameter name, so mmpretrain ViT checkpoints (and MAE / timm files
converted by ``tools/convert_image_ckpt.py``) load unchanged. Build-time
freezing, frozen-in-eval, no graph below the first trainable block, activation
checkpointing, summaries and load reports come from
:class:`~.tunable_base.TunableBackboneMixin`, the same code as the video
backbone. mmpretrain's attention is already fused
(``F.scaled_dot_product_attention``), so there is no ``attn_impl`` here.

``TunableViT(tuning='peft')`` is linear probing (the classifier reads the
frozen CLS feature; only the neck/head train); ``tuning='full'`` is full
fine-tuning.
"""
from typing import Dict, Tuple

import torch
from mmpretrain.models.backbones.vision_transformer import (
    TransformerEncoderLayer, VisionTransformer)
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS
from torch import Tensor

from .tunable_base import StandardTunableMixin

__all__ = ['TunableViT']


@MODELS.register_module()
class TunableViT(StandardTunableMixin, VisionTransformer):
    """mmpretrain ViT with build-time freezing and no wasted autograd.
    Linear probing and full fine-tuning are configurations of it.

    Arguments: mmpretrain ``VisionTransformer``'s and ``tuning``,
    ``train_final_norm``, ``with_cp``, ``skip_frozen_grad``, as
    :class:`~.tunable_base.StandardTunableMixin` says. The final norm
    ``train_final_norm`` trains is ``ln1`` (the norm over all tokens, read at
    CLS for ``out_type='cls_token'``) or ``ln2`` (the norm of the averaged
    patch tokens for ``out_type='avg_featmap'``); the trained ``fc_norm`` is
    a video-recipe choice.

    Shapes:
        input ``(B, C, H, W)``; output a tuple with one entry per
        ``out_indices``: ``(B, d)`` for ``'cls_token'`` / ``'avg_featmap'``,
        ``(B, d, H/p, W/p)`` for ``'featmap'``, ``(B, 1+N, d)`` for
        ``'raw'``.
    """

    convert_hint = 'tools/convert_image_ckpt.py'
    stock_backbone = VisionTransformer

    def prepare_tunable(self, stock: Dict[str, object]) -> None:
        if self.out_type == 'avg_featmap':
            self.final_norm_name = 'ln2'
        else:
            self.final_norm_name = 'ln1' if self.final_norm else None
        if self.train_final_norm and self.final_norm_name is None:
            raise ValueError(
                'train_final_norm=True needs a final norm: set '
                'final_norm=True or out_type=\'avg_featmap\'')

    # ------------------------------------------------------------- forward
    blocks_attr = 'layers'
    embed_attrs = ('patch_embed', 'pre_norm', 'pos_embed', 'cls_token')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        grad, start = self.grad_plan()
        with torch.set_grad_enabled(grad and start < 0):
            x, hw = self.embed(x)
        outs = []
        last = len(self.layers) - 1
        for i in range(len(self.layers)):
            x = self.run_block(i, x, grad, start)
            if i == last and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)

    def embed(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Patches, CLS, position embedding (resized to the input's grid),
        dropout and pre-norm: ``(B, 1+N, d)`` and the patch grid ``(h, w)``.
        """
        x, hw = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)
        return self.pre_norm(self.drop_after_pos(x)), hw

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        """Block ``index``: ``x' = x + Attn(LN1(x)); x' + MLP(LN2(x'))``,
        the stock ``TransformerEncoderLayer.forward``."""
        layer = self.layers[index]
        x = x + self.attn_branch(layer, x)
        return x + self.mlp_branch(layer, x)

    def attn_branch(self, layer: TransformerEncoderLayer, x: Tensor) -> Tensor:
        """``DropPath(gamma1 * Attn(LN1(x)))`` (mmpretrain's attention
        returns the branch without the residual)."""
        return layer.attn(layer.ln1(x))

    def mlp_branch(self, layer: TransformerEncoderLayer, x: Tensor) -> Tensor:
        """``DropPath(gamma2 * MLP(LN2(x)))``: the stock FFN with a zero
        identity, so its own layer scale and drop-path apply unchanged."""
        return layer.ffn(layer.ln2(x), identity=x.new_zeros(()))
