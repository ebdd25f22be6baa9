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

    The ablations' ``prompt_cfg.output`` (VPT Fig. 8): ``'image_pool'`` is
    the default mean of patch tokens; ``'prompt_pool'`` / ``'global_pool'``
    give ``fc_norm(mean of the prompt outputs / of every token)``; all three
    need ``use_mean_pooling=True`` and no ``return_feat_map``. ``'cls'`` is
    not valid (no CLS token).

    Init: ``U(-v, v)`` with the tubelet-aware Xavier bound
    ``v = sqrt(6 / (C * t * p * p + d))`` (0.051 for a 2x16x16 tubelet at
    d=768), i.e. VPT's rule applied to the real patch projection, whose fan-in
    includes the tubelet depth (the 2D value would be 0.0625).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', project_dim=None,
            layers=None, location='prepend', output=None``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.
    """

    @property
    def prompt_offset(self) -> int:
        return 0

    def check_prompt_output(self) -> None:
        output = self.prompt_cfg.output
        if output == 'cls':
            raise ValueError(
                "prompt_cfg.output='cls' reads a CLS token, which the "
                "VideoMAE ViT has none of; valid here: None, 'image_pool', "
                "'prompt_pool', 'global_pool'")
        if output is not None and (self.return_feat_map
                                   or self.fc_norm is None):
            raise ValueError(
                f'prompt_cfg.output={output!r} is a mean of tokens then '
                f'fc_norm: it needs use_mean_pooling=True and '
                f'return_feat_map=False')

    def pool(self, x: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        if self.prompt_cfg.output in (None, 'image_pool'):
            return super().pool(self.strip_prompts(x), grid)
        return self.fc_norm(self.norm(self.output_tokens(x)).mean(1))
