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


# --------------------------------------------------------- VideoMAE V2
def test_v2_pretrain_file_converts_like_v1_without_a_name_rule(tiny):
    """VideoMAE V2's pre-training files (vit_g_hybrid_pt_1200e.pth) have V1's
    keys; a torch.compile'd save adds ``_orig_mod.``, which V2's loader
    strips."""
    stock = tiny.stock()
    ckpt = pretrain_file(stock)
    ckpt['model'] = {'_orig_mod.' + k: v for k, v in ckpt['model'].items()}
    conversion = convert_videomae(ckpt, num_frames=4, img_size=32)
    assert conversion.layout == 'videomae-pretrain'
    assert not conversion.unknown and len(conversion.dropped) == 4
    reference = convert_videomae(pretrain_file(stock), num_frames=4,
                                 img_size=32).state_dict
    assert conversion.state_dict.keys() == reference.keys()
    assert 'architecture: 64 wide, 3 blocks, patch 16, tubelet 2, MLP 256 ' \
        '(no width file of this shape)' in conversion.report()


def test_v2_distilled_file_keeps_its_k710_head_and_says_so(tiny):
    """vit_s_k710_dl_from_giant.pth: a ``module`` dict of fine-tuned keys
    with a 710-class (Kinetics-710) head."""
    stock = tiny.stock()
    module = original_keys(stock.state_dict())
    module['head.weight'] = torch.randn(710, 64)
    module['head.bias'] = torch.randn(710)
    conversion = convert_videomae({'module': module}, num_frames=4,
                                  img_size=32)
    assert conversion.layout == 'videomae-finetune'
    assert conversion.state_dict['cls_head.fc_cls.weight'].shape == (710, 64)
    assert any('710 classes' in n for n in conversion.notes)


def test_videomae_keys_under_a_backbone_prefix_are_not_mmaction2(tiny):
    module = original_keys(tiny.stock().state_dict(), 'backbone.')
    layout, state = detect_layout({'model': module})
    assert layout == 'videomae-finetune'
    assert 'patch_embed.proj.weight' in state
    conversion = convert_videomae({'model': module}, num_frames=4,
                                  img_size=32)
    assert 'backbone.patch_embed.projection.weight' in \
        conversion.state_dict and not conversion.unknown


def test_v2_cosine_attention_scale_is_unknown_not_renamed(tiny):
    ckpt = finetune_file(tiny.stock())
    ckpt['module']['blocks.0.attn.scale'] = torch.ones(4, 1, 1)
    assert convert_videomae(ckpt).unknown == ['blocks.0.attn.scale']


def test_v2_giant_checkpoint_fits_the_giant_model_file():
    """ViT-g/14 shapes on the meta device (no 4 GB of weights): a V2
    pre-training state converts to exactly the tensors the width file's
    backbone has, and the report names that file."""
    import importlib.util
    import os.path as osp

    from mmengine.config import Config
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(
        'count_params_tool', osp.join(repo, 'tools', 'count_params.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = Config.fromfile(osp.join(repo, 'configs', '_base_', 'models',
                                   'videomaev2_vit-giant-p14.py'))
    model = tool.build_on_meta(cfg)
    ckpt = {'model': original_keys(model.backbone.state_dict(), 'encoder.')}
    ckpt['model']['encoder.norm.weight'] = ckpt['model'].pop(
        'encoder.fc_norm.weight')
    ckpt['model']['encoder.norm.bias'] = ckpt['model'].pop(
        'encoder.fc_norm.bias')
    ckpt['model']['mask_token'] = torch.zeros(1, 1, 512, device='meta')
    conversion = convert_videomae(ckpt, num_frames=16, img_size=224)
    assert conversion.layout == 'videomae-pretrain' and not conversion.unknown
    assert ('architecture: 1408 wide, 40 blocks, patch 14, tubelet 2, MLP '
            '6144 (configs/_base_/models/videomaev2_vit-giant-p14.py)'
            ) in conversion.notes
    expected = {f'backbone.{k}': v.shape
                for k, v in model.backbone.state_dict().items()
                if not k.startswith('fc_norm')}
    got = {k: v.shape for k, v in conversion.state_dict.items()
           if k.startswith('backbone.') and not k.startswith('backbone.norm')}
    assert got == expected  # pos_embed: 8 x 16 x 16 tokens of 1408
