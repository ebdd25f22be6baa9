"""A training batch of one clip in the heads that normalise with batch
statistics (``BNLinearHead``, ``MLPHead``): a clear error naming the cause and
``train_dataloader.drop_last``, not BatchNorm's bare ValueError; one clip at
test time is fine (running statistics)."""
import pytest
import torch
from mmaction.structures import ActionDataSample

import adaptformer_mm  # noqa: F401  (registrations)
from adaptformer_mm.models.heads import BNLinearHead, MLPHead

HEADS = {
    'BNLinearHead': lambda: BNLinearHead(num_classes=3, in_channels=64),
    'MLPHead': lambda: MLPHead(num_classes=3, in_channels=64,
                               mlp_cfg=dict(num_layers=2)),
}


@pytest.mark.parametrize('name', HEADS)
def test_training_batch_of_one_names_the_cause_and_the_key(name):
    head = HEADS[name]().train()
    x = torch.randn(1, 64)
    sample = [ActionDataSample().set_gt_label(0)]
    with pytest.raises(ValueError) as error:
        head.loss(x, sample)  # the recognizer's training path
    message = str(error.value)
    assert message.startswith(f'{name}: a training batch of 1 sample')
    assert 'train_dataloader.drop_last=True' in message
    assert 'batch statistics' in message
    # Nothing was normalised, so the running statistics are untouched.
    assert torch.equal(head.bn.running_mean, torch.zeros(64))
    assert int(head.bn.num_batches_tracked) == 0


@pytest.mark.parametrize('name', HEADS)
def test_one_clip_at_test_time_and_two_in_training_still_work(name):
    head = HEADS[name]()
    x = torch.randn(2, 64) * 3 + 1
    head.train()(x)
    assert int(head.bn.num_batches_tracked) == 1
    head.eval()
    one = x[:1]
    # Eval normalises with the running statistics the batch of two left.
    bn = head.bn
    normed = (one - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
    classifier = head.fc_cls if name == 'BNLinearHead' else head.mlp
    torch.testing.assert_close(head(one), classifier(normed))
