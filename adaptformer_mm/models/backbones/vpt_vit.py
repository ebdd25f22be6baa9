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

    The ablations' ``prompt_cfg.output`` (VPT Fig. 8) needs a pooled
    ``out_type``: ``'cls'`` is ``out_type='cls_token'`` spelled explicitly;
    ``'image_pool'`` / ``'prompt_pool'`` / ``'global_pool'`` average the
    patch / prompt / prompt and patch outputs of the final sequence (after
    ``ln1`` when ``final_norm``), then ``ln2`` for ``out_type='avg_featmap'``
    (VPT's own runs: ``out_type='cls_token'``, ``final_norm=True``).

    Init: ``U(-v, v)``, ``v = sqrt(6 / (3*16*16 + d))`` = 0.0625 for ViT-B/16
    (VPT's Xavier bound of the patch projection).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', project_dim=None,
            layers=None, location='prepend', output=None``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments.
    """

    @property
    def prompt_offset(self) -> int:
        return self.num_extra_tokens

    def check_prompt_output(self) -> None:
        output = self.prompt_cfg.output
        if output == 'cls' and self.out_type != 'cls_token':
            raise ValueError(
                f"prompt_cfg.output='cls' reads the CLS token: it needs "
                f"out_type='cls_token', got out_type={self.out_type!r}")
        if output is not None and self.out_type not in ('cls_token',
                                                        'avg_featmap'):
            raise ValueError(
                f'prompt_cfg.output={output!r} gives a pooled (B, d) '
                f"feature: it needs out_type 'cls_token' or 'avg_featmap', "
                f'got out_type={self.out_type!r}')

    def _format_output(self, x: Tensor, hw: Tuple[int, int]):
        if self.prompt_cfg.output in (None, 'cls'):
            return super()._format_output(self.strip_prompts(x), hw)
        pooled = self.output_tokens(x).mean(1)
        return self.ln2(pooled) if self.out_type == 'avg_featmap' else pooled
