"""tools/convert_ckpt.py: layout from keys, weights_only-loadable output."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch

import adaptformer_mm  # noqa: F401
from mmaction.models.backbones.vit_mae import VisionTransformer

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'convert_ckpt.py')
TINY = dict(img_size=32, patch_size=16, embed_dims=64, depth=2, num_heads=4,
            num_frames=4)


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('convert_ckpt', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def videomae_keys(prefix=''):
    state = VisionTransformer(**TINY).state_dict()
    out = {}
    for key, value in state.items():
        if key == 'pos_embed':
            continue
        key = key.replace('patch_embed.projection.', 'patch_embed.proj.')
        key = key.replace('mlp.layers.0.0.', 'mlp.fc1.').replace(
            'mlp.layers.1.', 'mlp.fc2.')
        out[prefix + key] = value
    return out, state


def test_pretrain_file_without_naming_rule(tool, tmp_path):
    model, stock = videomae_keys('encoder.')
    model['decoder.norm.weight'] = torch.ones(3)
    src, dst = tmp_path / 'anything.bin', tmp_path / 'out.pth'
    torch.save({'model': model, 'args': argparse.Namespace(lr=1.5e-4)}, src)
    assert tool.main([str(src), str(dst), '--num-frames', '4',
                      '--img-size', '32']) == 0
    out = torch.load(dst, weights_only=True)
    assert set(out['state_dict']) == {'backbone.' + k for k in stock}
    torch.testing.assert_close(out['state_dict']['backbone.pos_embed'],
                               stock['pos_embed'])
    assert out['meta']['converted_from'] == 'videomae-pretrain'


def test_finetuned_file_and_unknown_keys(tool, tmp_path, capsys):
    module, _ = videomae_keys()
    module['head.weight'] = torch.ones(5, 64)
    module['head.bias'] = torch.ones(5)
    module['mystery.weight'] = torch.ones(1)
    src, dst = tmp_path / 'ft.pth', tmp_path / 'out.pth'
    torch.save({'module': module}, src)
    assert tool.main([str(src), str(dst)]) == 1
    assert 'mystery.weight' in capsys.readouterr().err
    assert not dst.exists()
    assert tool.main([str(src), str(dst), '--ignore-unknown']) == 0
    state = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(state['cls_head.fc_cls.weight'], torch.ones(5, 64))
    assert state['backbone.pos_embed'].shape == (1, 8 * 14 * 14, 64)


def test_unreadable_input_fails_plainly(tool, tmp_path, capsys):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a checkpoint')
    assert tool.main([str(bad), str(tmp_path / 'o.pth')]) == 1
    assert 'bad.pth' in capsys.readouterr().err
