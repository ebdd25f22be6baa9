"""mmaction2's head loss works under bf16 autocast (the paper recipes' AMP)."""
import pytest
import torch
from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

import adaptformer_mm  # noqa: F401  (applies the fix)


def _head_and_batch():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='TimeSformerHead', num_classes=4,
                             in_channels=8))
    feats = torch.randn(3, 8)
    samples = [ActionDataSample().set_gt_label(i) for i in (0, 2, 3)]
    return head, feats, samples


def test_stock_loss_fails_on_bf16_scores():
    head, feats, samples = _head_and_batch()
    stock = BaseHead.loss_by_feat.__wrapped__
    with torch.autocast('cpu', dtype=torch.bfloat16):
        scores = head(feats)
        assert scores.dtype == torch.bfloat16
        with pytest.raises(TypeError, match='BFloat16'):
            stock(head, scores, samples)


def test_bf16_loss_equals_float32_loss_of_the_same_scores():
    head, feats, samples = _head_and_batch()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        scores = head(feats)
        losses = head.loss_by_feat(scores, samples)
    reference = BaseHead.loss_by_feat.__wrapped__(head, scores.float(),
                                                  samples)
    assert losses['loss_cls'].dtype == torch.float32
    torch.testing.assert_close(losses['loss_cls'], reference['loss_cls'])
    losses['loss_cls'].backward()
    assert head.fc_cls.weight.grad is not None
