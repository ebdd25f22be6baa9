import math

import pytest
import torch

from adaptformer_mm.peft import AdapterConfig, AdaptMLP


def test_init_outputs_zero_and_down_is_linear_default():
    torch.manual_seed(0)
    adapter = AdaptMLP(768, bottleneck=64)
    assert torch.count_nonzero(adapter.up.weight) == 0
    assert torch.count_nonzero(adapter.up.bias) == 0
    assert torch.count_nonzero(adapter.down.bias) == 0
    # Kaiming-uniform with a=sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    bound = 1 / math.sqrt(768)
    assert adapter.down.weight.abs().max() <= bound
    std = adapter.down.weight.std().item()
    assert std == pytest.approx(bound / math.sqrt(3), rel=0.02)
    x = torch.randn(2, 5, 768)
    assert torch.equal(adapter(x), torch.zeros_like(x))


def test_one_adapter_has_99136_params_and_sweep_matches_paper():
    adapter = AdaptMLP(768, bottleneck=64)
    assert sum(p.numel() for p in adapter.parameters()) == 99_136
    paper = {1: 0.03, 4: 0.08, 8: 0.16, 16: 0.30, 32: 0.60, 64: 1.19,
             128: 2.37, 256: 4.73, 512: 9.45}
    for r, millions in paper.items():
        adapter = AdaptMLP(768, bottleneck=r)
        n = 12 * sum(p.numel() for p in adapter.parameters())
        assert round(n / 1e6, 2) == millions, r


@pytest.mark.parametrize('layernorm', ['none', 'in', 'out'])
def test_forward_is_scaled_bottleneck(layernorm):
    torch.manual_seed(0)
    adapter = AdaptMLP(16, bottleneck=4, scale=0.1, layernorm=layernorm)
    torch.nn.init.normal_(adapter.up.weight)
    x = torch.randn(3, 16)
    h = adapter.norm_in(x) if layernorm == 'in' else x
    y = 0.1 * (torch.relu(h @ adapter.down.weight.T + adapter.down.bias)
               @ adapter.up.weight.T + adapter.up.bias)
    if layernorm == 'out':
        y = adapter.norm_out(y)
    torch.testing.assert_close(adapter(x), y, rtol=0, atol=1e-6)


def test_learnable_scale_is_one_parameter():
    adapter = AdaptMLP(16, bottleneck=4, scale=1.0, learnable_scale=True)
    assert isinstance(adapter.scale, torch.nn.Parameter)
    assert adapter.scale.item() == 1.0
    assert sum(p.numel() for p in adapter.parameters()) == (
        16 * 4 + 4 + 4 * 16 + 16 + 1)
    assert 'scale' not in dict(AdaptMLP(16, bottleneck=4).named_parameters())


def test_init_weights_restores_spec_init():
    adapter = AdaptMLP(16, bottleneck=4)
    torch.nn.init.normal_(adapter.up.weight)
    adapter.init_weights()
    assert torch.count_nonzero(adapter.up.weight) == 0


@pytest.mark.parametrize('kwargs, key', [
    (dict(bottleneck=0), 'adapter_cfg.bottleneck'),
    (dict(bottleneck=2.5), 'adapter_cfg.bottleneck'),
    (dict(layernorm='pre'), "('none', 'in', 'out')"),
    (dict(dropout=1.0), 'adapter_cfg.dropout'),
    (dict(scale='0.1'), 'adapter_cfg.scale'),
])
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key.replace('(', r'\(').replace(
            ')', r'\)')):
        AdaptMLP(16, **kwargs)


def test_module_reads_its_config():
    cfg = AdapterConfig(bottleneck=4, scale=0.5, layernorm='in', dropout=0.2)
    adapter = AdaptMLP(16, cfg)
    assert adapter.config is cfg
    assert adapter.down.out_features == 4 and adapter.scale == 0.5
    assert adapter.norm_in is not None and adapter.dropout.p == 0.2
    with pytest.raises(TypeError, match='not both'):
        AdaptMLP(16, cfg, bottleneck=8)
    with pytest.raises(TypeError, match='must be of type AdapterConfig'):
        AdaptMLP(16, 64)
    with pytest.raises(ValueError, match=r"adapter_cfg has unknown field\(s\) "
                       r"\['bottelneck'\]; valid fields: \['bottleneck'"):
        AdaptMLP(16, bottelneck=4)
