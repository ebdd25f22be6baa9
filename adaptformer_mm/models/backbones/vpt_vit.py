"""VPT (visual prompt tuning, arXiv 2203.12119) on mmpretrain's image ViT."""
from typing import Tuple

from mmpretrain.registry import MODELS
from torch import Tensor

from .tunable_vit import TunableViT
from .vpt import VPTMixin

__all__ = ['VPTViT']


@MODELS.register_module()
class VPTViT(VPTMixin, TunableViT):
    """mmpretrain ViT with learnable prompt tokens (VPT, Sec. 3.2).

    The sequence entering a prompted block is ``[CLS, P_i, patches]`` (VPT's
    order); see :class:`~.vpt.VPTMixin` for insertion and deep replacement.
    Prompts enter after the position embedding, its dropout and mmpretrain's
    ``pre_norm`` (an identity for MAE / timm ViTs), with no position
    embedding. The classifier reads CLS (``out_type='cls_token'``); every
    other ``out_type`` sees ``[CLS, patches]`` with the prompts removed, so
    ``'avg_featmap'`` averages patch tokens only and ``'featmap'`` / ``'raw'``
    have the stock shapes. Without a CLS token the sequence is
    ``[P_i, patches]``.

    Init: ``U(-v, v)``, ``v = sqrt(6 / (3*16*16 + d))`` = 0.0625 for ViT-B/16
    (VPT's Xavier bound of the patch projection).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', project_dim=None,
            layers=None``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments.
    """

    @property
    def prompt_offset(self) -> int:
        return self.num_extra_tokens

    def _format_output(self, x: Tensor, hw: Tuple[int, int]):
        return super()._format_output(self.strip_prompts(x), hw)
