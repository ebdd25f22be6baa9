import argparse
import re

import pytest
import torch

from adaptformer_mm.models import AdaptFormerVideoViT
from adaptformer_mm.models.convert import (convert_videomae, detect_layout,
                                           load_checkpoint_file)

_TO_ORIGINAL = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'\.mlp\.layers\.0\.0\.', '.mlp.fc1.'),
    (r'\.mlp\.layers\.1\.', '.mlp.fc2.'),
]


def original_keys(state, prefix=''):
    """A stock mmaction2 state dict renamed to VideoMAE's own keys (and
    without the sinusoid table, which VideoMAE does not save)."""
    out = {}
    for key, value in state.items():
        if key == 'pos_embed':
            continue
        for pattern, repl in _TO_ORIGINAL:
            key = re.sub(pattern, repl, key)
        out[prefix + key] = value
    return out


def pretrain_file(stock):
    model = original_keys(stock.state_dict(), 'encoder.')
    model['encoder.norm.weight'] = model.pop('encoder.fc_norm.weight')
    model['encoder.norm.bias'] = model.pop('encoder.fc_norm.bias')
    model.update({
        'decoder.blocks.0.attn.qkv.weight': torch.zeros(3, 3),
        'decoder.head.weight': torch.zeros(3, 3),
        'encoder_to_decoder.weight': torch.zeros(3, 3),
        'mask_token': torch.zeros(1, 1, 3),
    })
    return {'model': model, 'epoch': 799,
            'args': argparse.Namespace(model='pretrain_videomae_base')}


def finetune_file(stock, wrapper='module'):
    module = original_keys(stock.state_dict())
    module['head.weight'] = torch.randn(7, 64)
    module['head.bias'] = torch.randn(7)
    return {wrapper: module}


def test_pretrain_converts_and_loads_every_stock_tensor(tiny):
    stock = tiny.stock()
    conversion = convert_videomae(pretrain_file(stock), num_frames=4,
                                  img_size=32)
    assert conversion.layout == 'videomae-pretrain'
    assert len(conversion.dropped) == 4 and not conversion.unknown
    state = conversion.state_dict
    assert 'backbone.norm.weight' in state
    model = AdaptFormerVideoViT(**tiny.kwargs)
    backbone = {k[len('backbone.'):]: v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(backbone, strict=False)
    assert unexpected == ['norm.weight', 'norm.bias']  # norm is Identity
    assert all('adaptmlp' in k or k.startswith('fc_norm') for k in missing)
    for key, value in stock.state_dict().items():
        if not key.startswith('fc_norm'):
            assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize('wrapper', ['module', 'model'])
def test_finetune_converts_head_to_cls_head(tiny, wrapper):
    stock = tiny.stock()
    ckpt = finetune_file(stock, wrapper)
    conversion = convert_videomae(ckpt, num_frames=4, img_size=32)
    assert conversion.layout == 'videomae-finetune'
    state = conversion.state_dict
    assert torch.equal(state['cls_head.fc_cls.weight'],
                       ckpt[wrapper]['head.weight'])
    backbone = {k[len('backbone.'):]: v for k, v in state.items()
                if k.startswith('backbone.')}
    assert set(backbone) == set(stock.state_dict())
    torch.testing.assert_close(backbone['pos_embed'], stock.pos_embed)


def test_layout_comes_from_keys(tiny):
    stock = tiny.stock()
    mm = {'state_dict': {'backbone.' + k: v
                         for k, v in stock.state_dict().items()},
          'meta': {}}
    assert detect_layout(mm)[0] == 'mmaction2'
    ddp = {'module.' + k: v for k, v in finetune_file(stock)['module'].items()}
    assert detect_layout(ddp)[0] == 'videomae-finetune'
    with pytest.raises(ValueError, match='unrecognised checkpoint layout'):
        detect_layout({'model': {'conv1.weight': torch.zeros(1)}})
    with pytest.raises(ValueError, match='top-level keys'):
        detect_layout({'epoch': 3})


def test_unknown_keys_are_reported(tiny):
    ckpt = finetune_file(tiny.stock())
    ckpt['module']['cls_token'] = torch.zeros(1, 1, 64)
    assert convert_videomae(ckpt).unknown == ['cls_token']


def test_files_with_namespace_args_load_safely(tiny, tmp_path):
    path = str(tmp_path / 'checkpoint-799.pth')
    torch.save(pretrain_file(tiny.stock()), path)
    assert 'model' in load_checkpoint_file(path)
