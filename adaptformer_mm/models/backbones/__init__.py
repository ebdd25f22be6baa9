"""Tunable ViT backbones.

Video (mmaction2 ``MODELS``, VideoMAE ViT): ``TunableVideoViT``,
``AdaptFormerVideoViT``, ``VPTVideoViT``. Image (mmpretrain ``MODELS``, ViT
with CLS token): ``TunableViT``, ``AdaptFormerViT``, ``VPTViT``. What they
share lives once: ``tunable_base`` (freezing, summaries, load reports),
``adaptformer`` (adapter placement), ``vpt`` (prompt insertion).
"""
from .adaptformer_video_vit import AdaptFormerVideoViT
from .adaptformer_vit import AdaptFormerViT
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT
from .vpt_video_vit import VPTVideoViT
from .vpt_vit import VPTViT

__all__ = [
    'TunableVideoViT', 'AdaptFormerVideoViT', 'VPTVideoViT', 'TunableViT',
    'AdaptFormerViT', 'VPTViT'
]
