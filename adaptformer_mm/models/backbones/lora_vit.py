"""LoRA (arXiv 2106.09685) on mmpretrain's image ViT."""
from mmpretrain.registry import MODELS

from .lora import LoRAMixin
from .tunable_vit import TunableViT

__all__ = ['LoRAViT']


@MODELS.register_module()
class LoRAViT(LoRAMixin, TunableViT):
    """mmpretrain ViT with LoRA on the attention projections (and optionally
    the FFN) of each chosen ``layers.{i}``; see :class:`~.lora.LoRAMixin`.

    Layer names relative to a block: ``attn.qkv``, ``attn.proj``,
    ``ffn.layers.0.0`` (fc1), ``ffn.layers.1`` (fc2); mmpretrain calls each
    as a module. Under ``tuning='peft'`` only the LoRA tensors (and the
    neck/head of the classifier) train. ViT-B, r=8 on qkv and proj of 12
    blocks: 442,368 LoRA parameters.

    Args:
        lora_cfg (dict | LoRAConfig): Overrides of ``rank=8, alpha=8,
            dropout=0.0, targets=('qkv', 'proj'), layers=None``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments.

    Shapes: as :class:`TunableViT`.
    """
