"""Method configs: one frozen typed config per method, built from the dicts
config files write, checked once, written back as plain data."""
import dataclasses

import pytest

from adaptformer_mm.peft import AdapterConfig, PromptConfig


def test_defaults_are_the_published_ones():
    assert AdapterConfig.from_cfg(None).to_dict() == dict(
        bottleneck=64, scale=0.1, learnable_scale=False, layernorm='none',
        dropout=0.0, mode='parallel', layers=None, init='paper')
    assert PromptConfig.from_cfg(None).to_dict() == dict(
        num_tokens=1, deep=True, dropout=0.0, init='uniform',
        project_dim=None, layers=None, location='prepend', output=None)


def test_dict_overrides_caller_defaults_and_round_trips():
    # The image backbone's default dropout is 0.1; a config may override it.
    assert AdapterConfig.from_cfg(None, dropout=0.1).dropout == 0.1
    cfg = AdapterConfig.from_cfg(dict(bottleneck=8, dropout=0.2,
                                      layers=[2, 0]), dropout=0.1)
    assert cfg.dropout == 0.2 and cfg.bottleneck == 8
    assert cfg.layers == (2, 0)  # stored as given (a tuple); resolved below
    plain = cfg.to_dict()
    assert plain['layers'] == [2, 0]
    assert AdapterConfig.from_cfg(plain) == cfg
    assert AdapterConfig.from_cfg(cfg) is cfg
    hash(cfg)  # frozen and hashable


def test_frozen():
    cfg = PromptConfig(num_tokens=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_tokens = 5
    assert cfg.replace(num_tokens=5).num_tokens == 5
    with pytest.raises(ValueError, match='prompt_cfg.num_tokens'):
        cfg.replace(num_tokens=0)


@pytest.mark.parametrize('cfg, match', [
    (dict(bottleneck=0), r'adapter_cfg.bottleneck must be a positive int '
     r'\(the paper uses 64\), got 0'),
    (dict(bottleneck=True), 'adapter_cfg.bottleneck'),
    (dict(scale='0.1'), 'adapter_cfg.scale must be a number'),
    (dict(layernorm='pre'),
     r"adapter_cfg.layernorm must be one of \('none', 'in', 'out'\)"),
    (dict(dropout=1.0), r'adapter_cfg.dropout must be a number in \[0, 1\)'),
    (dict(learnable_scale='yes'),
     'adapter_cfg.learnable_scale must be True or False'),
    (dict(mode='serial'),
     r"adapter_cfg.mode must be one of \('parallel', 'sequential'\)"),
    (dict(layers=3), 'adapter_cfg.layers must be None'),
    (dict(layers=['0']), 'adapter_cfg.layers must be None'),
    (dict(bottelneck=4), r"adapter_cfg has unknown field\(s\) "
     r"\['bottelneck'\]; valid fields: \['bottleneck', 'dropout'"),
])
def test_adapter_errors_name_the_key_and_valid_values(cfg, match):
    with pytest.raises(ValueError, match=match):
        AdapterConfig.from_cfg(cfg)


@pytest.mark.parametrize('cfg, match', [
    (dict(num_tokens=0), 'prompt_cfg.num_tokens must be an int >= 1'),
    (dict(init='xavier'),
     r"prompt_cfg.init must be one of \('uniform', 'normal'\)"),
    (dict(dropout=-0.1), r'prompt_cfg.dropout must be a number in \[0, 1\)'),
    (dict(project_dim=0), 'prompt_cfg.project_dim must be None or a positive'),
    (dict(deep='yes'), 'prompt_cfg.deep must be True or False'),
    (dict(deep=False, layers=[0]), 'prompt_cfg.layers is only valid with '
     'deep=True'),
    (dict(tokens=5), r"prompt_cfg has unknown field\(s\) \['tokens'\]"),
])
def test_prompt_errors_name_the_key_and_valid_values(cfg, match):
    with pytest.raises(ValueError, match=match):
        PromptConfig.from_cfg(cfg)


def test_not_a_dict_is_refused_naming_the_fields():
    with pytest.raises(ValueError, match=r'adapter_cfg must be a dict of '
                       r"\['bottleneck'"):
        AdapterConfig.from_cfg(64)


def test_layers_resolve_against_the_depth():
    assert AdapterConfig().resolve_layers(3) == (0, 1, 2)
    assert AdapterConfig(layers=[2, 0]).resolve_layers(3) == (0, 2)
    assert PromptConfig(deep=False).resolve_layers(12) == (0, )
    assert PromptConfig(layers=[1]).resolve_layers(2) == (1, )
    for layers in ([0, 3], [1, 1], []):
        with pytest.raises(ValueError,
                           match=r'adapter_cfg.layers .* in \[0, 3\)'):
            AdapterConfig(layers=layers).resolve_layers(3)
    with pytest.raises(ValueError, match=r'prompt_cfg.layers .* in \[0, 2\)'):
        PromptConfig(layers=[2]).resolve_layers(2)
