"""mmaction2's head loss under bf16 autocast.

``BaseHead.loss_by_feat`` computes top-k accuracy with
``cls_scores.detach().cpu().numpy()``. Under ``torch.autocast(dtype=bfloat16)``
(``AmpOptimWrapper(dtype='bfloat16')``, the paper recipes' AMP) the head's
Linear returns bfloat16 scores, numpy has no bfloat16, and every training step
fails with ``TypeError: Got unsupported ScalarType BFloat16``.

The scores are cast to float32 before the loss. Autocast computes
cross-entropy in float32 anyway, so the loss and its gradient are unchanged;
only the accuracy logging now works.

Versions: written for mmaction2 1.2.0; on another mmaction2 it is applied
with a warning (casting bfloat16 scores to float32 changes no loss, so it is
harmless where the defect is gone).
"""
import torch

from ._guard import APPLY, version_guard, wrap_method

_MARK = '_adaptformer_mm_float_scores'


def patch_head_loss_dtype() -> None:
    if not version_guard('mmaction2', '==1.2.0',
                         "mmaction2's head loss on bfloat16 scores",
                         elsewhere=APPLY):
        return
    from mmaction.models.heads.base import BaseHead

    def make(original):
        def loss_by_feat(self, cls_scores, data_samples, **kwargs):
            if cls_scores.dtype == torch.bfloat16:
                cls_scores = cls_scores.float()
            return original(self, cls_scores, data_samples, **kwargs)
        return loss_by_feat

    wrap_method(BaseHead, 'loss_by_feat', _MARK, make)
