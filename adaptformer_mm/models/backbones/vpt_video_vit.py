"""VPT (visual prompt tuning, arXiv 2203.12119) on mmaction2's VideoMAE ViT."""
from typing import Tuple

from mmaction.registry import MODELS
from torch import Tensor

from .tunable_video_vit import TunableVideoViT
from .vpt import VPTMixin

__all__ = ['VPTVideoViT']


@MODELS.register_module()
class VPTVideoViT(VPTMixin, TunableVideoViT):
    """VideoMAE ViT with learnable prompt tokens (VPT, Sec. 3.2).

    The backbone has no CLS token, so the sequence entering a prompted block
    is ``[P_i, patches]``; see :class:`~.vpt.VPTMixin` for insertion and deep
    replacement. Prompts never enter the pooled feature: the mean is over
    patch tokens only (mmaction2's own mean pooling would average the prompts
    too), and ``return_feat_map`` holds patch tokens only.

    Init: ``U(-v, v)`` with the tubelet-aware Xavier bound
    ``v = sqrt(6 / (C * t * p * p + d))`` (0.051 for a 2x16x16 tubelet at
    d=768), i.e. VPT's rule applied to the real patch projection, whose fan-in
    includes the tubelet depth (the 2D value would be 0.0625).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', project_dim=None,
            layers=None``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.
    """

    @property
    def prompt_offset(self) -> int:
        return 0

    def pool(self, x: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        return super().pool(self.strip_prompts(x), grid)
