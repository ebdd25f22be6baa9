"""The one restore path for tunable-only state: merge with the frozen
backbone, check its checksum, strip a ``module.`` prefix, load."""
from collections import OrderedDict

import pytest
import torch
from torch import nn

from adaptformer_mm.peft import AdaptMLP, set_trainable, tunable_state_dict
from adaptformer_mm.peft.tunable_state import (BackboneMismatchError,
                                               complete_tunable_state,
                                               frozen_checksum,
                                               pretrained_backbone_file,
                                               restore_tunable_state,
                                               strip_module_prefix)


def toy(seed):
    torch.manual_seed(0)  # same frozen weights for every seed
    model = nn.Module()
    model.backbone = nn.Sequential(nn.Linear(4, 4))
    model.backbone.add_module('adaptmlp', AdaptMLP(4, bottleneck=2))
    model.head = nn.Linear(4, 2)
    set_trainable(model, lambda n: 'adaptmlp' in n or n.startswith('head.'))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=gen))
    return model


def test_restore_strips_module_prefix_once_and_loads():
    source, target = toy(1), toy(2)
    tunable = OrderedDict(('module.' + k, v)
                          for k, v in tunable_state_dict(source).items())
    restore_tunable_state(target, tunable, None, frozen_checksum(source),
                          'ckpt.pth', 'the model')
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_other_backbone_is_refused_and_nothing_loaded():
    source, target = toy(1), toy(2)
    with torch.no_grad():
        target.backbone[0].weight.add_(1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(BackboneMismatchError) as err:
        restore_tunable_state(target, tunable_state_dict(source), None,
                              frozen_checksum(source), 'ckpt.pth', 'other.pth')
    msg = str(err.value)
    assert frozen_checksum(source) in msg and frozen_checksum(target) in msg
    assert 'ckpt.pth' in msg and 'other.pth' in msg
    for key, value in target.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_restore_names_missing_and_unexpected_keys_and_loads_nothing():
    source, target = toy(1), toy(2)
    tunable = dict(tunable_state_dict(source))
    tunable['backbone.0.weight'] = torch.zeros(4, 4)  # frozen, not tunable
    del tunable['head.weight']
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(KeyError, match=r'missing head\.weight; '
                       r'unexpected backbone\.0\.weight'):
        restore_tunable_state(target, tunable, None, frozen_checksum(source))
    for key, value in target.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_complete_keeps_model_order_and_module_versions():
    source = toy(1)
    tunable = OrderedDict(tunable_state_dict(source))
    tunable._metadata = {'': {'version': 1}}
    state = complete_tunable_state(source, tunable, source.state_dict(),
                                   frozen_checksum(source))
    assert list(state) == list(source.state_dict())
    assert state._metadata == {'': {'version': 1}}
    with pytest.raises(KeyError, match='missing head.weight'):
        complete_tunable_state(
            source, {k: v for k, v in tunable.items() if k != 'head.weight'},
            source.state_dict(), frozen_checksum(source))


def test_strip_module_prefix_strips_one_level():
    w = torch.zeros(1)
    assert list(strip_module_prefix({'module.module.a': w, 'b': w})) == [
        'module.a', 'b']


def test_pretrained_backbone_file_reads_init_cfg():
    pretrained = dict(type='Pretrained', checkpoint='vit.pth')
    assert pretrained_backbone_file(
        dict(model=dict(backbone=dict(init_cfg=pretrained)))) == 'vit.pth'
    assert pretrained_backbone_file(dict(model=dict(backbone=dict(
        init_cfg=[dict(type='Kaiming'), pretrained])))) == 'vit.pth'
    assert pretrained_backbone_file(dict(model=dict(backbone=dict()))) is None
