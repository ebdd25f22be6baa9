"""Video backbones (mmaction2 VideoMAE ViT); image backbones live beside."""
from .adaptformer_video_vit import AdaptFormerVideoViT
from .tunable_video_vit import TunableVideoViT
from .vpt_video_vit import VPTVideoViT

__all__ = ['TunableVideoViT', 'AdaptFormerVideoViT', 'VPTVideoViT']
