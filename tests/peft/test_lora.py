"""LoRA: the config and its errors, the layer's equation and init, target
matching, and merging into the frozen weight (equal outputs, stock keys)."""
import copy

import pytest
import torch
from torch import nn

from adaptformer_mm.peft import (LoRA, LoRAConfig, LoRALinear, add_lora,
                                 merge_lora)


def test_defaults_and_round_trip():
    cfg = LoRAConfig.from_cfg(None)
    assert cfg.to_dict() == dict(rank=8, alpha=8.0, dropout=0.0,
                                 targets=['qkv', 'proj'], layers=None)
    assert cfg.scaling == 1.0
    cfg = LoRAConfig.from_cfg(dict(rank=4, alpha=16, targets=['qkv'],
                                   layers=[1]))
    assert cfg.targets == ('qkv', ) and cfg.layers == (1, )
    assert cfg.scaling == 4.0
    assert LoRAConfig.from_cfg(cfg.to_dict()) == cfg


@pytest.mark.parametrize('cfg, match', [
    (dict(rank=0), r'lora_cfg.rank must be an int >= 1, got 0'),
    (dict(rank=2.0), 'lora_cfg.rank'),
    (dict(alpha=0), r'lora_cfg.alpha must be a number > 0, got 0'),
    (dict(dropout=1.5), r'lora_cfg.dropout must be a number in \[0, 1\)'),
    (dict(targets='qkv'), 'lora_cfg.targets must be a non-empty list'),
    (dict(targets=[]), 'lora_cfg.targets must be a non-empty list'),
    (dict(targets=['qkv', 'qkv']), 'lora_cfg.targets must not repeat'),
    (dict(layers=2), 'lora_cfg.layers must be None'),
    (dict(rnak=4), r"lora_cfg has unknown field\(s\) \['rnak'\]"),
])
def test_config_errors_name_the_key_and_valid_values(cfg, match):
    with pytest.raises(ValueError, match=match):
        LoRAConfig.from_cfg(cfg)


def test_layer_is_w_x_plus_scaled_b_a_x_and_starts_at_the_base():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    ref = copy.deepcopy(base)
    layer = LoRALinear(base, LoRAConfig(rank=2, alpha=6))
    assert layer.weight is base.weight and layer.bias is base.bias
    assert [n for n, _ in layer.named_parameters()] == [
        'weight', 'bias', 'lora.down', 'lora.up']
    x = torch.randn(3, 4, 6)
    assert torch.equal(layer(x), ref(x))  # B = 0 at init
    with torch.no_grad():
        layer.lora.up.normal_()
    a, b = layer.lora.down, layer.lora.up
    expected = ref(x) + 3.0 * x @ a.t() @ b.t()
    torch.testing.assert_close(layer(x), expected)


def test_rank_larger_than_the_layer_is_an_error():
    with pytest.raises(ValueError, match=r'lora_cfg.rank must be in \[1, 4\] '
                       r'for a 4 -> 8 layer, got 5'):
        LoRA(4, 8, LoRAConfig(rank=5))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(8, 24)
        self.attn.proj = nn.Linear(8, 8)
        self.mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(),
                                 nn.Linear(32, 8, bias=False))

    def forward(self, x):
        q, k, v = self.attn.qkv(x).chunk(3, -1)
        w = (q @ k.transpose(-2, -1)).softmax(-1)
        x = x + self.attn.proj(w @ v)
        return x + self.mlp(x)


def test_targets_match_by_name_or_dotted_suffix():
    block = Block()
    stock_keys = list(block.state_dict())
    names = add_lora(block, LoRAConfig(rank=2, targets=['qkv', 'mlp.2']))
    assert names == ['attn.qkv', 'mlp.2']
    assert isinstance(block.attn.qkv, LoRALinear)
    assert isinstance(block.mlp[2], LoRALinear) and block.mlp[2].bias is None
    assert not isinstance(block.attn.proj, LoRALinear)
    keys = list(block.state_dict())
    assert [k for k in keys if 'lora' not in k] == stock_keys


def test_a_target_that_matches_no_layer_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"lora_cfg.targets: 'q' matches no "
                       r"linear layer of block 3; valid names.*'attn.proj', "
                       r"'attn.qkv', 'mlp.0', 'mlp.2'"):
        add_lora(Block(), LoRAConfig(targets=['qkv', 'q']), where='block 3')


def test_merge_gives_the_unmerged_outputs_with_the_stock_modules():
    torch.manual_seed(0)
    model = nn.Sequential(Block(), Block()).double()  # stock in float64
    stock = copy.deepcopy(model)
    for block in model:
        add_lora(block, LoRAConfig(rank=3, alpha=5,
                                   targets=['qkv', 'proj', 'mlp.0']))
    model.double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora' in name:
                p.normal_(0, 0.3)
    frozen = model[0].attn.qkv.weight
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    with torch.no_grad():
        unmerged = model(x)
        assert (unmerged - stock(x)).abs().max() > 1e-3
        assert merge_lora(model) == 6
        merged = model(x)
    torch.testing.assert_close(merged, unmerged, rtol=0, atol=1e-12)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert [type(m) for m in model.modules()] == \
        [type(m) for m in stock.modules()]
    assert list(model.state_dict()) == list(stock.state_dict())
    # A new tensor: the frozen one may be shared with other models.
    assert model[0].attn.qkv.weight is not frozen
    assert torch.equal(frozen, stock[0].attn.qkv.weight)
    assert merge_lora(model) == 0
