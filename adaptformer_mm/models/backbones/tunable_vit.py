"""The image ViT family: mmpretrain's ViT (with CLS token), made tunable.

:class:`TunableViT` subclasses mmpretrain's ``VisionTransformer`` and keeps
every parameter name, so mmpretrain ViT checkpoints (and MAE / timm files
converted by ``tools/convert_image_ckpt.py``) load unchanged. Build-time
freezing, frozen-in-eval, no graph below the first trainable block, activation
checkpointing, summaries and load reports come from
:class:`~.tunable_base.TunableBackboneMixin`, the same code as every
family; this file holds the family's hooks. mmpretrain's attention is already fused
(``F.scaled_dot_product_attention``), so there is no ``attn_impl`` here.

``TunableViT(tuning='peft')`` is linear probing (the classifier reads the
frozen CLS feature; only the neck/head train); ``tuning='full'`` is full
fine-tuning.
"""
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmpretrain.models.backbones.vision_transformer import (
    TransformerEncoderLayer, VisionTransformer)
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS
from torch import Tensor

from .tunable_base import StandardTunableMixin

__all__ = ['TunableViT', 'POOLED_OUT_TYPES']

#: Output types with one feature per image, whose pooling a method may
#: replace (the attentive probe, VPT's output ablation).
POOLED_OUT_TYPES = ('cls_token', 'avg_featmap')


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
    registry = MODELS
    family_name = 'ViT'
    # The spec's image recipe: adapter dropout 0.1.
    method_defaults = {'adapter_cfg': dict(dropout=0.1)}

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

    @property
    def num_prefix_tokens(self) -> int:
        return self.num_extra_tokens

    def after_block(self, index: int, x: Tensor, hw: Tuple[int, int],
                    outs: List[Tensor]) -> Tensor:
        """``ln1`` after the last block (``final_norm``); an output per
        ``out_indices``."""
        if index == len(self.layers) - 1 and self.final_norm:
            x = self.ln1(x)
        if index in self.out_indices:
            outs.append(self.readout(x, hw, index))
        return x

    def format_outputs(self, outs: List[Tensor]) -> Tuple[Tensor, ...]:
        return tuple(outs)

    def readout(self, x: Tensor, hw: Tuple[int, int], index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None):
        """The stock ``_format_output`` of ``out_type``; ``pool`` replaces
        the CLS readout (it gets every token, CLS first) or the mean of the
        patch tokens (then ``ln2``)."""
        if pool is None:
            return self._format_output(x, hw)
        if self.out_type == 'cls_token':
            return pool(x, self.num_extra_tokens)
        return self.ln2(pool(x[:, self.num_extra_tokens:], 0))

    def cls_readout_error(self) -> Optional[str]:
        if self.out_type != 'cls_token':
            return (f"it needs out_type='cls_token', got "
                    f'out_type={self.out_type!r}')
        return None

    def pool_readout_error(self) -> Optional[str]:
        if self.out_type not in POOLED_OUT_TYPES:
            return (f'needs out_type in {POOLED_OUT_TYPES} (one pooled '
                    f'feature per image), got out_type={self.out_type!r}')
        return None

    def embed(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Patches, CLS, position embedding (resized to the input's grid),
        dropout and pre-norm: ``(B, 1+N, d)``, and the patch grid ``(h, w)``.
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

    def attn_branch(self, layer: TransformerEncoderLayer, x: Tensor) -> Tensor:
        """``DropPath(gamma1 * Attn(LN1(x)))`` (mmpretrain's attention
        returns the branch without the residual)."""
        return layer.attn(layer.ln1(x))

    def mlp_branch(self, layer: TransformerEncoderLayer, x: Tensor) -> Tensor:
        """``DropPath(gamma2 * MLP(LN2(x)))``: the stock FFN with a zero
        identity, so its own layer scale and drop-path apply unchanged."""
        return layer.ffn(layer.ln2(x), identity=x.new_zeros(()))
