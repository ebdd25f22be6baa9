"""Models registered in mmaction2's ``MODELS`` (importing registers them)."""
from .backbones import AdaptFormerVideoViT, TunableVideoViT, VPTVideoViT
from .heads import BNLinearHead

__all__ = [
    'TunableVideoViT', 'AdaptFormerVideoViT', 'VPTVideoViT', 'BNLinearHead'
]
