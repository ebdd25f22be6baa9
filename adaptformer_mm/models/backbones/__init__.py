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
from .attentive_probe_video_vit import AttentiveProbeVideoViT
from .attentive_probe_vit import AttentiveProbeViT
from .bitfit_video_vit import BitFitVideoViT
from .bitfit_vit import BitFitViT
from .lora_video_vit import LoRAVideoViT
from .lora_vit import LoRAViT
from .partial_video_vit import PartialVideoViT
from .partial_vit import PartialViT
from .tunable_base import own_arguments
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT
from .vpt_video_vit import VPTVideoViT
from .vpt_vit import VPTViT

__all__ = [
    'TunableVideoViT', 'AdaptFormerVideoViT', 'VPTVideoViT', 'TunableViT',
    'AdaptFormerViT', 'VPTViT', 'own_arguments'
]
# The VPT paper's baselines (partial-k, bias tuning) and LoRA / attentive
# probing: mixins in partial.py, bitfit.py, lora.py, attentive_probe.py.
__all__ += [
    'PartialVideoViT', 'PartialViT', 'BitFitVideoViT', 'BitFitViT',
    'LoRAVideoViT', 'LoRAViT', 'AttentiveProbeVideoViT', 'AttentiveProbeViT'
]
# Hierarchical Swin, video (mmaction2 SwinTransformer3D) and image
# (mmpretrain SwinTransformer): tunable_swin_base.py, swin_adaptformer.py,
# swin_vpt.py hold what the two share.
from .adaptformer_swin import AdaptFormerSwin  # noqa: E402
from .adaptformer_video_swin import AdaptFormerVideoSwin  # noqa: E402
from .tunable_swin import TunableSwin  # noqa: E402
from .tunable_video_swin import TunableVideoSwin  # noqa: E402
from .vpt_swin import VPTSwin  # noqa: E402
from .vpt_video_swin import VPTVideoSwin  # noqa: E402

__all__ += [
    'TunableVideoSwin', 'AdaptFormerVideoSwin', 'VPTVideoSwin', 'TunableSwin',
    'AdaptFormerSwin', 'VPTSwin'
]
