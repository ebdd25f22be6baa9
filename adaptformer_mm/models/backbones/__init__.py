"""Tunable ViT backbones.

Video (mmaction2 ``MODELS``, VideoMAE ViT): ``TunableVideoViT``,
``AdaptFormerVideoViT``, ``VPTVideoViT``. Image (mmpretrain ``MODELS``, ViT
with CLS token): ``TunableViT``, ``AdaptFormerViT``, ``VPTViT``. What they
share lives once: ``tunable_base`` (freezing, summaries, load reports, the
arguments a backbone adds to its stock class: :func:`own_arguments`),
``adaptformer`` (adapter placement), ``vpt`` (prompt insertion); the method
configs themselves are :class:`adaptformer_mm.peft.AdapterConfig` and
:class:`adaptformer_mm.peft.PromptConfig`.
"""
from .adaptformer_video_vit import AdaptFormerVideoViT
from .adaptformer_vit import AdaptFormerViT
from .tunable_base import own_arguments
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT
from .vpt_video_vit import VPTVideoViT
from .vpt_vit import VPTViT

__all__ = [
    'TunableVideoViT', 'AdaptFormerVideoViT', 'VPTVideoViT', 'TunableViT',
    'AdaptFormerViT', 'VPTViT', 'own_arguments'
]
