"""adapter_cfg.init: the paper's zero start (the default) and the init the
authors' released video code ends up with ('released_video'), at step 0."""
import math

import pytest
import torch
from torch import nn

from adaptformer_mm.models import AdaptFormerVideoViT
from adaptformer_mm.peft import AdapterConfig, AdaptMLP
from adaptformer_mm.peft.adapter import ADAPTER_INITS, RELEASED_VIDEO_STD

from tests.models.conftest import randomized_stock, tuned_like


def test_default_is_the_paper_and_bad_values_name_the_valid_ones():
    assert AdapterConfig().init == 'paper'
    assert ADAPTER_INITS == ('paper', 'released_video')
    cfg = AdapterConfig.from_cfg(dict(init='released_video'))
    assert AdapterConfig.from_cfg(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"adapter_cfg.init must be one of "
                       r"\('paper', 'released_video'\), got 'kaiming'"):
        AdapterConfig.from_cfg(dict(init='kaiming'))


def test_released_video_is_trunc_normal_002_on_both_weights_biases_zero():
    torch.manual_seed(0)
    adapter = AdaptMLP(768, bottleneck=64, init='released_video')
    # The same calls in the same order: build both Linears (PyTorch's
    # default init), then trunc_normal_(std=0.02) on down, then on up.
    torch.manual_seed(0)
    down, up = nn.Linear(768, 64), nn.Linear(64, 768)
    nn.init.trunc_normal_(down.weight, std=0.02)
    nn.init.trunc_normal_(up.weight, std=0.02)
    assert torch.equal(adapter.down.weight, down.weight)
    assert torch.equal(adapter.up.weight, up.weight)
    for bias in (adapter.down.bias, adapter.up.bias):
        assert torch.count_nonzero(bias) == 0
    for weight in (adapter.down.weight, adapter.up.weight):
        assert RELEASED_VIDEO_STD == 0.02
        assert weight.std().item() == pytest.approx(0.02, rel=0.02)
        assert abs(weight.mean().item()) < 1e-3
        # Bounds +-2 are 100 std away: in effect an untruncated normal.
        assert weight.abs().max().item() < 6 * 0.02
    # The paper's down-projection bound, for contrast: U(+-1/sqrt(768)).
    assert adapter.down.weight.abs().max() > 1 / math.sqrt(768)
    x = torch.randn(4, 768)
    assert torch.count_nonzero(adapter(x)) > 0


@pytest.mark.parametrize('init', ['paper', 'released_video'])
def test_step_zero_of_the_adapted_video_backbone(init):
    stock = randomized_stock()
    model = tuned_like(AdaptFormerVideoViT, stock,
                       adapter_cfg=dict(init=init)).eval()
    # mmengine's init_weights (the Runner's) keeps each init.
    model.init_weights()
    model.load_state_dict(stock.state_dict(), strict=False)
    torch.manual_seed(1)
    video = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        out, expected = model(video), stock(video)
    ups = [model.adapter(i).up.weight for i in model.adapter_layers]
    diff = (out - expected).abs().max().item()
    if init == 'paper':
        # Zero start: the pretrained model (to the contract suite's
        # tolerance: the tunable forward adds in another order).
        assert all(torch.count_nonzero(w) == 0 for w in ups)
        assert diff <= 1e-5
    else:
        # The released video runs start with a small nonzero adapter term.
        assert all(w.std().item() == pytest.approx(0.02, rel=0.1)
                   for w in ups)
        assert 1e-4 < diff < 0.1
