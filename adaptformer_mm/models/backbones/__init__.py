"""Tunable backbones: one file per family, one file per method.

Families (a stock backbone made tunable; the only per-backbone code, behind
the protocol of :class:`~.tunable_base.TunableBackboneMixin`):
``tunable_video_vit`` (mmaction2 VideoMAE ViT), ``tunable_vit`` (mmpretrain
ViT), ``tunable_video_swin`` (mmaction2 ``SwinTransformer3D``),
``tunable_swin`` (mmpretrain ``SwinTransformer``, and the skeleton both Swins
share), ``tunable_uniformerv2`` (mmaction2 ``UniFormerV2``: CLIP for video).
Linear probing and full fine-tuning are the families themselves
(``Tunable<Family>``, ``tuning='peft'`` / ``'full'``).

Methods (a mixin and its registered classes ``<Method><Family>``, made by
:func:`~.tunable_base.method_class`): ``adaptformer``, ``vpt``, ``lora``,
``bitfit``, ``partial``, ``attentive_probe``. Their settings and defaults are
the configs in :mod:`adaptformer_mm.peft`. ``docs/adding_a_method.md`` says
how to add a method or a family.
"""
from .adaptformer import (AdaptFormerMixin, AdaptFormerSwin,
                          AdaptFormerUniFormerV2, AdaptFormerVideoSwin,
                          AdaptFormerVideoViT, AdaptFormerViT)
from .attentive_probe import (AttentiveProbeMixin, AttentiveProbeSwin,
                              AttentiveProbeUniFormerV2,
                              AttentiveProbeVideoSwin, AttentiveProbeVideoViT,
                              AttentiveProbeViT)
from .bitfit import (BitFitMixin, BitFitSwin, BitFitUniFormerV2,
                     BitFitVideoSwin, BitFitVideoViT, BitFitViT)
from .lora import (LoRAMixin, LoRASwin, LoRAUniFormerV2, LoRAVideoSwin,
                   LoRAVideoViT, LoRAViT)
from .partial import (PartialMixin, PartialSwin, PartialUniFormerV2,
                      PartialVideoSwin, PartialVideoViT, PartialViT)
from .tunable_base import (TunableBackboneMixin, method_class,
                           own_arguments)
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT
from .vpt import (VPTMixin, VPTSwin, VPTUniFormerV2, VPTVideoSwin,
                  VPTVideoViT, VPTViT)

#: The families, and the method mixins: every (method, family) cell is the
#: registered class ``method.method_name + family.family_name``.
FAMILIES = (TunableVideoViT, TunableViT, TunableVideoSwin, TunableSwin,
            TunableUniFormerV2)
METHODS = (AdaptFormerMixin, VPTMixin, LoRAMixin, BitFitMixin, PartialMixin,
           AttentiveProbeMixin)

__all__ = [
    'TunableVideoViT', 'TunableViT', 'TunableVideoSwin', 'TunableSwin',
    'AdaptFormerVideoViT', 'AdaptFormerViT', 'AdaptFormerVideoSwin',
    'AdaptFormerSwin', 'VPTVideoViT', 'VPTViT', 'VPTVideoSwin', 'VPTSwin',
    'LoRAVideoViT', 'LoRAViT', 'LoRAVideoSwin', 'LoRASwin', 'BitFitVideoViT',
    'BitFitViT', 'BitFitVideoSwin', 'BitFitSwin', 'PartialVideoViT',
    'PartialViT', 'PartialVideoSwin', 'PartialSwin', 'AttentiveProbeVideoViT',
    'AttentiveProbeViT', 'AttentiveProbeVideoSwin', 'AttentiveProbeSwin',
    'TunableUniFormerV2', 'AdaptFormerUniFormerV2', 'VPTUniFormerV2',
    'LoRAUniFormerV2', 'BitFitUniFormerV2', 'PartialUniFormerV2',
    'AttentiveProbeUniFormerV2', 'TunableBackboneMixin', 'method_class',
    'own_arguments', 'FAMILIES', 'METHODS'
]
