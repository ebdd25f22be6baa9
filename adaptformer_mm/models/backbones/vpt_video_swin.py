"""VPT (visual prompt tuning, arXiv 2203.12119) on mmaction2's Video Swin."""
from mmaction.registry import MODELS

from .swin_vpt import SwinVPTMixin
from .tunable_video_swin import TunableVideoSwin

__all__ = ['VPTVideoSwin']


@MODELS.register_module()
class VPTVideoSwin(SwinVPTMixin, TunableVideoSwin):
    """Video Swin with learnable prompt tokens in every window attention.

    VPT's Swin design (:mod:`~.swin_vpt`, each choice with its source in
    VPT's released code) carried over to 3D windows: the prompts join every
    ``(t, h, w)`` window, merge with each stage's patch merging as a
    ``1x2x2`` tile, and are removed from the feature maps. VPT ran no video
    Swin; the 3D windows are the only change.

    Init: ``U(-v, v)``, ``v = sqrt(6 / (C * t * p * p + d_0))`` (the
    tubelet-aware bound of :class:`~.vpt_video_vit.VPTVideoViT`; ``3*2*4*4``
    inputs per patch for Video Swin-B, ``d_0 = 128``: v = 0.1637).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', layers=None``.
        **kwargs: :class:`TunableVideoSwin` and mmaction2
            ``SwinTransformer3D`` arguments.

    Shapes: as :class:`TunableVideoSwin`.
    """
