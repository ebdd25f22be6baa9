"""LoRA (arXiv 2106.09685) on every family.

:class:`LoRAMixin` needs only the family's blocks: in each chosen block it
replaces the target linear layers by :class:`~adaptformer_mm.peft.LoRALinear`
(same ``weight`` / ``bias`` tensors and names; the new keys are
``<layer>.lora.down`` / ``<layer>.lora.up``). Every family calls its
attention and MLP projections as modules (VideoMAE's ``qkv`` too, its q / v
biases added after), so nothing else changes. The settings and their
defaults are :class:`~adaptformer_mm.peft.LoRAConfig` (``lora_cfg``).
"""
from typing import Dict, List

from adaptformer_mm.peft import LoRAConfig, add_lora, merge_lora

from .tunable_base import method_class, method_config_mixin
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT

__all__ = [
    'LoRAMixin', 'LoRAVideoViT', 'LoRAViT', 'LoRAVideoSwin', 'LoRASwin',
    'LoRAUniFormerV2'
]


class LoRAMixin(method_config_mixin(LoRAConfig)):
    """``W x + b + (alpha / r) B A x`` on the target layers of each chosen
    block; the stock model is frozen, ``A`` and ``B`` train (``B = 0`` at
    init: the model equals the pretrained one).

    Target names are relative to a block: ``attn.qkv`` / ``attn.proj``
    (mmpretrain Swin: ``attn.w_msa.qkv`` / ``attn.w_msa.proj``; the default
    ``('qkv', 'proj')`` matches them all as dotted suffixes), the MLP
    ``mlp.layers.0.0`` / ``mlp.layers.1`` (VideoMAE), ``ffn.layers.0.0`` /
    ``ffn.layers.1`` (mmpretrain), ``mlp.fc1`` / ``mlp.fc2`` (Video Swin).
    On a block of width ``d``, rank ``r`` on qkv and proj adds
    ``r (d + 3d) + r (d + d) = 6 r d`` parameters (ViT-B, r=8, 12 blocks:
    442,368; Swin-B: ``48 * sum_s depth_s d_s`` = 577,536).

    :meth:`merge_lora` folds every update into its frozen weight for
    inference: afterwards the backbone holds exactly the stock modules and
    keys and runs at the stock cost.

    Args:
        lora_cfg (dict | LoRAConfig): Overrides of the defaults of
            :class:`~adaptformer_mm.peft.LoRAConfig`. Kept as the frozen
            ``self.lora_cfg``; the chosen blocks are ``self.lora_layers``,
            the adapted layers per block ``self.lora_targets``.
        **kwargs: Arguments of the family.
    """

    method_name = 'LoRA'

    def build_method_modules(self) -> None:
        super().build_method_modules()
        cfg = self.lora_cfg
        blocks = self.tunable_blocks
        self.lora_layers = cfg.resolve_layers(len(blocks))
        self.lora_targets: Dict[int, List[str]] = {
            i: add_lora(blocks[i], cfg, where=f'block {i}')
            for i in self.lora_layers
        }

    def merge_lora(self):
        """Fold each ``(alpha / r) B A`` into its frozen weight, in place;
        returns ``self``. The merged backbone's state has the stock keys
        only (it loads into the stock model or the family's ``Tunable*``
        class) and gives the unmerged outputs up to float rounding."""
        merge_lora(self)
        return self


LoRAVideoViT = method_class(LoRAMixin, TunableVideoViT)
LoRAViT = method_class(LoRAMixin, TunableViT)
LoRAVideoSwin = method_class(LoRAMixin, TunableVideoSwin)
LoRASwin = method_class(LoRAMixin, TunableSwin)
LoRAUniFormerV2 = method_class(LoRAMixin, TunableUniFormerV2)
