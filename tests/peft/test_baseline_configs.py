"""The configs of partial-k, BitFit, MLP-k and the attentive probe: defaults,
plain-data round trip, and errors naming key, value and valid range; the
modules that read them (bias selection, the MLP, the pooler)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adaptformer_mm.peft import (MLP, AttentivePooler, AttentiveProbeConfig,
                                 BitFitConfig, MLPHeadConfig, PartialConfig,
                                 bias_parameter_names)


@pytest.mark.parametrize('cls, defaults', [
    (PartialConfig, dict(num_blocks=1, final_norm=True)),
    (BitFitConfig, dict(norm_bias=True)),
    (MLPHeadConfig, dict(num_layers=3, hidden_dims=None, dropout=0.0)),
    (AttentiveProbeConfig, dict(num_heads=None, dropout=0.0)),
])
def test_defaults_round_trip(cls, defaults):
    cfg = cls.from_cfg(None)
    assert cfg.to_dict() == defaults
    assert cls.from_cfg(cfg.to_dict()) == cfg


@pytest.mark.parametrize('cls, cfg, match', [
    (PartialConfig, dict(num_blocks=0),
     r'partial_cfg.num_blocks must be an int >= 1 .*got 0'),
    (PartialConfig, dict(final_norm=1),
     'partial_cfg.final_norm must be True or False'),
    (BitFitConfig, dict(norm_bias='no'),
     'bitfit_cfg.norm_bias must be True or False'),
    (MLPHeadConfig, dict(num_layers=0),
     r'mlp_cfg.num_layers must be an int >= 1 .*got 0'),
    (MLPHeadConfig, dict(hidden_dims=0), 'mlp_cfg.hidden_dims must be None'),
    (MLPHeadConfig, dict(dropout=-0.1), r'mlp_cfg.dropout must be a number'),
    (AttentiveProbeConfig, dict(num_heads=0),
     'probe_cfg.num_heads must be None'),
    (AttentiveProbeConfig, dict(heads=2),
     r"probe_cfg has unknown field\(s\) \['heads'\]"),
])
def test_errors_name_the_key_and_valid_values(cls, cfg, match):
    with pytest.raises(ValueError, match=match):
        cls.from_cfg(cfg)


def test_partial_k_resolves_against_the_depth():
    assert PartialConfig(num_blocks=1).resolve_blocks(12) == (11, )
    assert PartialConfig(num_blocks=3).resolve_blocks(3) == (0, 1, 2)
    with pytest.raises(ValueError, match=r'partial_cfg.num_blocks must be in '
                       r'\[1, 2\] \(the backbone has depth=2\), got 3'):
        PartialConfig(num_blocks=3).resolve_blocks(2)


def test_bias_names_come_from_the_structure():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4),
                          nn.Linear(4, 2, bias=False))
    model.q_bias = nn.Parameter(torch.zeros(4))
    model.scale = nn.Parameter(torch.zeros(4))
    model.pos_bias = nn.Parameter(torch.zeros(2, 4))  # a table, not 1-D
    assert bias_parameter_names(model) == ['q_bias', '0.bias', '1.bias']
    assert bias_parameter_names(model, norm_bias=False) == ['q_bias',
                                                            '0.bias']


def test_mlp_layers_counts_and_init():
    torch.manual_seed(0)
    mlp = MLP(8, 5, MLPHeadConfig(num_layers=3, dropout=0.1))
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == \
        [(8, 8), (8, 8), (8, 5)]
    assert sum(p.numel() for p in mlp.parameters()) == \
        2 * (8 * 8 + 8) + 8 * 5 + 5
    assert torch.equal(mlp.fc_cls.bias, torch.zeros(5))
    wide = MLP(8, 5, MLPHeadConfig(num_layers=2, hidden_dims=16))
    assert sum(p.numel() for p in wide.parameters()) == \
        (8 * 16 + 16) + 16 * 5 + 5
    linear = MLP(8, 5, MLPHeadConfig(num_layers=1))
    assert len(linear.hidden) == 0
    x = torch.randn(4, 8)
    torch.testing.assert_close(linear(x), F.linear(
        x, linear.fc_cls.weight, linear.fc_cls.bias))
    mlp.eval()
    h = x
    for layer in linears[:-1]:
        h = F.relu(layer(h))
    torch.testing.assert_close(mlp(x), linears[-1](h))


def test_pooler_is_one_query_cross_attention_step_by_step():
    torch.manual_seed(0)
    pooler = AttentivePooler(8, 2, AttentiveProbeConfig())
    with torch.no_grad():
        pooler.norm.weight.normal_(1, 0.2)
        pooler.norm.bias.normal_(0, 0.2)
    tokens = torch.randn(3, 5, 8)
    assert sum(p.numel() for p in pooler.parameters()) == \
        3 * 8 * 8 + 6 * 8
    out = pooler(tokens)
    assert out.shape == (3, 8)
    k, v = pooler.kv(pooler.norm(tokens)).split(8, dim=-1)
    q = pooler.query[0, 0]
    heads = []
    for h in range(2):
        s = slice(4 * h, 4 * h + 4)
        weights = (k[..., s] @ q[s] / math.sqrt(4)).softmax(-1)  # (B, N)
        heads.append((weights.unsqueeze(-1) * v[..., s]).sum(1))
    torch.testing.assert_close(out, pooler.proj(torch.cat(heads, -1)))


def test_pooler_heads_must_divide_the_width():
    with pytest.raises(ValueError, match=r'probe_cfg.num_heads must divide '
                       r'the token width 8, got 3'):
        AttentivePooler(8, 3, AttentiveProbeConfig(num_heads=3))
