"""MLP-k heads for mmaction2 (``MLPHead``) and mmpretrain (``MLPClsHead``):
registry, structure, MLP-1 equals the recipe's linear head, losses run, the
config's errors reach the user."""
import pytest
import torch
from mmaction.registry import MODELS as VIDEO_MODELS
from mmaction.structures import ActionDataSample
from mmpretrain.registry import MODELS as IMAGE_MODELS
from mmpretrain.structures import DataSample

import adaptformer_mm  # noqa: F401  (registrations)
from adaptformer_mm.models.heads import BNLinearHead, MLPClsHead, MLPHead


def test_video_head_builds_and_mlp1_is_the_bn_linear_head():
    head = VIDEO_MODELS.build(dict(type='MLPHead', _scope_='mmaction',
                                   num_classes=5, in_channels=8,
                                   mlp_cfg=dict(num_layers=3),
                                   average_clips='score'))
    assert isinstance(head, MLPHead) and head.average_clips == 'score'
    assert head.bn.affine is False and head.bn.eps == 1e-6
    assert sum(p.numel() for p in head.parameters()) == \
        2 * (8 * 8 + 8) + 8 * 5 + 5

    torch.manual_seed(0)
    mlp1 = MLPHead(num_classes=3, in_channels=8, mlp_cfg=dict(num_layers=1))
    mlp1.init_weights()
    assert mlp1.mlp.fc_cls.bias.abs().sum() == 0
    linear = BNLinearHead(num_classes=3, in_channels=8)
    linear.fc_cls.load_state_dict(mlp1.mlp.fc_cls.state_dict())
    x = torch.randn(6, 8) * 3 + 1
    torch.testing.assert_close(mlp1.train()(x), linear.train()(x))
    samples = [ActionDataSample().set_gt_label(i % 5) for i in range(6)]
    assert head.loss(x, samples)['loss_cls'].requires_grad


def test_image_head_builds_and_trains():
    head = IMAGE_MODELS.build(dict(type='MLPClsHead', _scope_='mmpretrain',
                                   num_classes=4, in_channels=8,
                                   mlp_cfg=dict(num_layers=2,
                                                hidden_dims=16)))
    assert isinstance(head, MLPClsHead)
    assert sum(p.numel() for p in head.parameters()) == \
        (8 * 16 + 16) + 16 * 4 + 4
    feats = (torch.randn(3, 8), torch.randn(3, 8))
    assert head(feats).shape == (3, 4)
    torch.testing.assert_close(head(feats), head.mlp(feats[-1]))
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    loss = head.loss(feats, samples)['loss']
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())


def test_head_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r'mlp_cfg.num_layers must be an int '
                       r'>= 1'):
        MLPHead(num_classes=3, in_channels=8, mlp_cfg=dict(num_layers=0))
    with pytest.raises(ValueError, match=r"mlp_cfg has unknown field\(s\) "
                       r"\['layers'\]"):
        MLPClsHead(num_classes=3, in_channels=8, mlp_cfg=dict(layers=2))
