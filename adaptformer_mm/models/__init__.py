"""Models registered in mmaction2's ``MODELS`` (video) and mmpretrain's
``MODELS`` (image); importing registers them."""
from .backbones import (AdaptFormerVideoViT, AdaptFormerViT, TunableVideoViT,
                        TunableViT, VPTVideoViT, VPTViT)
from .heads import BNLinearHead

__all__ = [
    'TunableVideoViT', 'AdaptFormerVideoViT', 'VPTVideoViT', 'TunableViT',
    'AdaptFormerViT', 'VPTViT', 'BNLinearHead'
]
