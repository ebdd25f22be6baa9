"""LoRA (arXiv 2106.09685) on mmaction2's VideoMAE ViT."""
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import Attention
from mmaction.registry import MODELS
from torch import Tensor

from adaptformer_mm.peft import LoRALinear

from .lora import LoRAMixin
from .tunable_video_vit import TunableVideoViT

__all__ = ['LoRAVideoViT']


@MODELS.register_module()
class LoRAVideoViT(LoRAMixin, TunableVideoViT):
    """VideoMAE ViT with LoRA on the attention projections (and optionally
    the MLP) of each chosen block; see :class:`~.lora.LoRAMixin`.

    Layer names relative to a block: ``attn.qkv``, ``attn.proj``,
    ``mlp.layers.0.0`` (fc1), ``mlp.layers.1`` (fc2). Under
    ``tuning='peft'`` the LoRA tensors, ``fc_norm`` and the head train.
    ViT-B, r=8 on qkv and proj of 12 blocks: 442,368 LoRA parameters.

    VideoMAE keeps separate q and v biases and applies ``qkv.weight`` with
    one ``F.linear`` (no call of the ``qkv`` module); :meth:`attention`
    adds the LoRA term to that projection.

    Args:
        lora_cfg (dict | LoRAConfig): Overrides of ``rank=8, alpha=8,
            dropout=0.0, targets=('qkv', 'proj'), layers=None``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.

    Shapes: as :class:`TunableVideoViT`.
    """

    def attention(self, attn: Attention, x: Tensor) -> Tensor:
        qkv = attn.qkv
        if not (isinstance(qkv, LoRALinear) and hasattr(attn, 'q_bias')):
            return super().attention(attn, x)  # qkv is called as a module
        bias = torch.cat(
            (attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))

        def projection(tokens: Tensor) -> Tensor:
            return F.linear(tokens, qkv.weight, bias) + qkv.lora(tokens).to(
                tokens.dtype)

        # The stock attention, handed a view of ``attn`` whose qkv is the
        # biased projection plus LoRA (and no separate q/v biases to fold).
        view = SimpleNamespace(
            qkv=projection, num_heads=attn.num_heads, scale=attn.scale,
            attn_drop=attn.attn_drop, proj=attn.proj,
            proj_drop=attn.proj_drop)
        return super().attention(view, x)
