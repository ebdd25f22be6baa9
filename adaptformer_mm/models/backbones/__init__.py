"""Tunable backbones: one file per family, one file per method.

Families (a stock backbone made tunable; the only per-backbone code, behind
the protocol of :class:`~.tunable_base.TunableBackboneMixin`):
``tunable_video_vit`` (mmaction2 VideoMAE ViT), ``tunable_vit`` (mmpretrain
ViT), ``tunable_video_swin`` (mmaction2 ``SwinTransformer3D``),
``tunable_swin`` (mmpretrain ``SwinTransformer``, and the skeleton both Swins
share). Linear probing and full fine-tuning are the families themselves
(``Tunable<Family>``, ``tuning='peft'`` / ``'full'``).

Methods (a mixin and its registered classes ``<Method><Family>``, made by
:func:`~.tunable_base.method_class`): ``adaptformer``, ``vpt``, ``lora``,
``bitfit``, ``partial``, ``attentive_probe``. Their settings and defaults are
the configs in :mod:`adaptformer_mm.peft`. ``docs/adding_a_method.md`` says
how to add a method or a family.
"""
from .adaptformer import (AdaptFormerMixin, AdaptFormerSwin,
                          AdaptFormerVideoSwin, AdaptFormerVideoViT,
                          AdaptFormerViT)
from .attentive_probe import (AttentiveProbeMixin, AttentiveProbeSwin,
                              AttentiveProbeVideoSwin, AttentiveProbeVideoViT,
                              AttentiveProbeViT)
from .bitfit import (BitFitMixin, BitFitSwin, BitFitVideoSwin, BitFitVideoViT,
                     BitFitViT)
from .lora import LoRAMixin, LoRASwin, LoRAVideoSwin, LoRAVideoViT, LoRAViT
from .partial import (PartialMixin, PartialSwin, PartialVideoSwin,
                      PartialVideoViT, PartialViT)
from .tunable_base import (TunableBackboneMixin, method_class,
                           own_arguments)
from .tunable_swin import TunableSwin
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT
from .vpt import VPTMixin, VPTSwin, VPTVideoSwin, VPTVideoViT, VPTViT

#: The families, and the method mixins: every (method, family) cell is the
#: registered class ``method.method_name + family.family_name``.
FAMILIES = (TunableVideoViT, TunableViT, TunableVideoSwin, TunableSwin)
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
    'TunableBackboneMixin', 'method_class', 'own_arguments', 'FAMILIES',
    'METHODS'
]
