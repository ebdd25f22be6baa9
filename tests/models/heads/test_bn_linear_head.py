import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from adaptformer_mm.models import BNLinearHead


def test_structure_and_init():
    head = MODELS.build(dict(type='BNLinearHead', num_classes=5,
                             in_channels=64))
    assert isinstance(head, BNLinearHead)
    assert head.bn.affine is False and head.bn.eps == 1e-6
    assert [n for n, _ in head.named_parameters()] == [
        'fc_cls.weight', 'fc_cls.bias'
    ]
    torch.manual_seed(0)
    head.fc_cls = torch.nn.Linear(256, 1000)
    head.init_weights()
    assert head.fc_cls.bias.abs().sum() == 0
    assert abs(head.fc_cls.weight.std().item() - 0.01) < 5e-4


def test_forward_is_batchnorm_then_linear_and_loss_works():
    head = BNLinearHead(num_classes=3, in_channels=8).train()
    x = torch.randn(6, 8) * 5 + 2
    normed = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-6)
    torch.testing.assert_close(head(x), head.fc_cls(normed))
    samples = [ActionDataSample().set_gt_label(i % 3) for i in range(6)]
    losses = head.loss(x, samples)
    assert losses['loss_cls'].requires_grad
