"""timm / MAE image ViT files -> mmpretrain keys, and image -> video
inflation, checked by loading the results into the real models."""
import re

import pytest
import torch
from mmaction.models.backbones.vit_mae import \
    VisionTransformer as VideoViT
from mmpretrain.models import VisionTransformer
from torch import nn

import adaptformer_mm  # noqa: F401
from adaptformer_mm.models import TunableVideoViT, TunableViT
from adaptformer_mm.models.convert import load_checkpoint_file
from adaptformer_mm.models.convert_image import (convert_image_vit,
                                                 detect_image_layout,
                                                 inflate_image_to_video)

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)
_TO_TIMM = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'^layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
    (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (r'^ln1\.', 'norm.'),
]


def random_image_vit(**kwargs):
    torch.manual_seed(0)
    model = VisionTransformer(arch=ARCH, img_size=32, **kwargs)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.2)
    model.eval()
    return model


def timm_keys(state):
    """A stock mmpretrain backbone state dict renamed to timm / MAE keys."""
    out = {}
    for key, value in state.items():
        for pattern, repl in _TO_TIMM:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def mae_pretrain_file(stock):
    model = timm_keys(stock.state_dict())
    model.update({'mask_token': torch.zeros(1, 1, 64),
                  'decoder_embed.weight': torch.zeros(32, 64),
                  'decoder_blocks.0.norm1.weight': torch.zeros(32)})
    return {'model': model}


def test_mae_file_converts_and_loads_every_stock_tensor():
    stock = random_image_vit()
    conversion = convert_image_vit(mae_pretrain_file(stock))
    assert conversion.layout == 'timm' and not conversion.unknown
    assert sorted(conversion.dropped) == [
        'decoder_blocks.0.norm1.weight', 'decoder_embed.weight', 'mask_token']
    backbone = {k[len('backbone.'):]: v
                for k, v in conversion.state_dict.items()}
    assert set(backbone) == set(stock.state_dict())
    model = TunableViT(arch=ARCH, img_size=32)
    model.load_state_dict(backbone)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x)[0], stock(x)[0])


def test_timm_in21k_head_and_pre_logits_map_to_the_vit_head():
    stock = random_image_vit()
    state = timm_keys(stock.state_dict())
    state.update({'head.weight': torch.randn(7, 64), 'head.bias':
                  torch.randn(7), 'pre_logits.fc.weight': torch.randn(64, 64),
                  'pre_logits.fc.bias': torch.randn(64)})
    out = convert_image_vit(state).state_dict
    assert torch.equal(out['head.layers.head.weight'], state['head.weight'])
    assert torch.equal(out['head.layers.pre_logits.bias'],
                       state['pre_logits.fc.bias'])
    from mmpretrain.models.heads import VisionTransformerClsHead
    head = VisionTransformerClsHead(num_classes=7, in_channels=64,
                                    hidden_dim=64)
    head.load_state_dict({k[len('head.'):]: v for k, v in out.items()
                          if k.startswith('head.')})


def test_mae_fine_tuned_fc_norm_is_the_avg_pool_norm():
    stock = random_image_vit(out_type='avg_featmap', final_norm=False)
    state = timm_keys(stock.state_dict())
    state['fc_norm.weight'] = state.pop('ln2.weight')
    state['fc_norm.bias'] = state.pop('ln2.bias')
    out = convert_image_vit({'model': state}).state_dict
    model = TunableViT(arch=ARCH, img_size=32, out_type='avg_featmap',
                       final_norm=False)
    model.load_state_dict({k[len('backbone.'):]: v for k, v in out.items()})
    assert torch.equal(model.ln2.weight, stock.ln2.weight)


def test_layout_comes_from_keys_and_bad_files_are_named():
    stock = random_image_vit()
    mm = {'state_dict': {'backbone.' + k: v
                         for k, v in stock.state_dict().items()}}
    assert detect_image_layout(mm)[0] == 'mmpretrain'
    ddp = {'module': {'module.' + k: v for k, v in
                      timm_keys(stock.state_dict()).items()}}
    assert detect_image_layout(ddp)[0] == 'timm'
    video = {'patch_embed.proj.weight': torch.zeros(8, 3, 2, 16, 16),
             'blocks.0.attn.qkv.weight': torch.zeros(24, 8)}
    with pytest.raises(ValueError, match='tools/convert_ckpt.py'):
        detect_image_layout(video)
    with pytest.raises(ValueError, match='unrecognised image checkpoint'):
        detect_image_layout({'conv1.weight': torch.zeros(1)})
    state = timm_keys(stock.state_dict())
    state['blocks.0.ls1.gamma'] = torch.ones(64)
    assert convert_image_vit(state).unknown == ['blocks.0.ls1.gamma']


def test_pos_embed_resized_for_another_input_size():
    stock = random_image_vit()
    conversion = convert_image_vit(timm_keys(stock.state_dict()),
                                   img_size=64)
    table = conversion.state_dict['backbone.pos_embed']
    assert table.shape == (1, 1 + 16, 64)
    assert torch.equal(table[:, 0], stock.pos_embed[:, 0])  # CLS kept
    assert 'resized' in conversion.report()
    TunableViT(arch=ARCH, img_size=64).load_state_dict(
        {k[len('backbone.'):]: v for k, v in
         conversion.state_dict.items()})


def test_tools_write_weights_only_files(tmp_path):
    from tools.convert_image_ckpt import main as convert_main
    from tools.inflate_image_to_video import main as inflate_main
    src, dst, video = (str(tmp_path / n) for n in
                       ('mae.pth', 'mm.pth', 'video.pth'))
    torch.save(mae_pretrain_file(random_image_vit()), src)
    assert convert_main([src, dst]) == 0
    saved = torch.load(dst, weights_only=True)
    assert 'backbone.layers.1.ffn.layers.1.weight' in saved['state_dict']
    assert inflate_main([src, video, '--num-frames', '4', '--img-size',
                         '32']) == 0
    saved = torch.load(video, weights_only=True)
    assert saved['state_dict']['backbone.patch_embed.projection.weight'] \
        .shape == (64, 3, 2, 16, 16)
    bad = str(tmp_path / 'bad.pth')
    torch.save({'model': {'blocks.0.ls1.gamma': torch.ones(1),
                          **load_checkpoint_file(src)['model']}}, bad)
    assert convert_main([bad, str(tmp_path / 'x.pth')]) == 1


def video_kwargs(**kwargs):
    return dict(img_size=32, patch_size=16, embed_dims=64, depth=2,
                num_heads=4, num_frames=4, tubelet_size=2, **kwargs)


def test_inflated_model_sees_a_static_video_as_the_image():
    """No CLS token, so the image and video models compute the same thing:
    a static clip gives the image's tokens at every time step (the kernel is
    split over the tubelet, the table tiled, and attention over identical
    copies of each key is attention over one copy)."""
    image = random_image_vit(with_cls_token=False, out_type='featmap')
    conversion = inflate_image_to_video(
        {'model': timm_keys(image.state_dict())}, num_frames=4,
        img_size=32, final_norm='norm')
    assert any('max |k_bias|' in n for n in conversion.notes)
    video = TunableVideoViT(**video_kwargs(
        use_learnable_pos_emb=True, use_mean_pooling=False,
        return_feat_map=True))
    video.load_state_dict({k[len('backbone.'):]: v for k, v in
                           conversion.state_dict.items()})
    video.eval()
    img = torch.randn(2, 3, 32, 32)
    clip = img.unsqueeze(2).expand(-1, -1, 4, -1, -1)
    with torch.no_grad():
        assert torch.allclose(video.patch_embed(clip)[0][:, :4],
                              image.patch_embed(img)[0], atol=1e-5)
        feat = video(clip)  # (B, d, T', h, w)
        expected = image(img)[0]  # (B, d, h, w)
    for t in range(2):
        torch.testing.assert_close(feat[:, :, t], expected, rtol=0,
                                   atol=1e-4)


def test_inflated_cls_checkpoint_loads_into_every_video_tensor():
    image = random_image_vit()
    conversion = inflate_image_to_video(
        {'model': timm_keys(image.state_dict())}, num_frames=4, img_size=32)
    assert 'backbone.cls_token' in conversion.dropped
    state = {k[len('backbone.'):]: v for k, v in
             conversion.state_dict.items()}
    stock = VideoViT(**video_kwargs(use_learnable_pos_emb=True))
    assert set(state) == set(stock.state_dict())
    torch.testing.assert_close(state['fc_norm.weight'], image.ln1.weight)
    torch.testing.assert_close(state['pos_embed'][:, :4],
                               image.pos_embed[:, 1:])
    torch.testing.assert_close(state['pos_embed'][:, 4:],
                               image.pos_embed[:, 1:])
    # A table tiled for 4 frames fits an 8-frame model (constant over time).
    model = TunableVideoViT(**{**video_kwargs(use_learnable_pos_emb=True),
                               'num_frames': 8})
    model.load_state_dict(state)
    torch.testing.assert_close(model.pos_embed[:, -4:],
                               image.pos_embed[:, 1:])


def test_tiled_table_note_names_its_token_grid():
    image = timm_keys(random_image_vit().state_dict())  # 2x2 patches
    conversion = inflate_image_to_video(image, num_frames=8, img_size=64)
    assert conversion.state_dict['backbone.pos_embed'].shape == (1, 64, 64)
    [note] = [n for n in conversion.notes if n.startswith('backbone.pos')]
    assert '(2x2, resized (bicubic) to 4x4, CLS position dropped)' in note
    assert 'a 4x4x4 (T x H x W) table for 8 frames at 64 px' in note


def test_sinusoid_option_and_bad_options():
    image = timm_keys(random_image_vit().state_dict())
    conversion = inflate_image_to_video(image, num_frames=4, img_size=32,
                                        pos_embed='sinusoid')
    stock = VideoViT(**video_kwargs())
    torch.testing.assert_close(conversion.state_dict['backbone.pos_embed'],
                               stock.pos_embed)
    with pytest.raises(ValueError, match=r"pos_embed must be one of \('tile'"):
        inflate_image_to_video(image, pos_embed='zeros')
    with pytest.raises(ValueError, match='multiple of tubelet_size'):
        inflate_image_to_video(image, num_frames=5)


# ----------------------------------------------------------------- MoCo v3
def moco_mlp(num_layers, in_dim, hidden, out_dim):
    """MoCo v3's projector / predictor: Linear (no bias), BatchNorm, ReLU
    per hidden layer; the last BatchNorm without affine parameters."""
    layers = []
    for i in range(num_layers):
        last = i == num_layers - 1
        layers.append(nn.Linear(in_dim if i == 0 else hidden,
                                out_dim if last else hidden, bias=False))
        layers += ([nn.BatchNorm1d(out_dim, affine=False)] if last else
                   [nn.BatchNorm1d(hidden), nn.ReLU()])
    return nn.Sequential(*layers)


def mocov3_file(stock, momentum):
    """A file as MoCo v3's main_moco.py saves it: the DDP model's state
    (``module.`` + base encoder in timm keys with its projector as
    ``head.*``, momentum encoder, predictor) beside optimizer state."""
    torch.manual_seed(2)
    model = {}
    for name, vit in (('base_encoder', stock), ('momentum_encoder',
                                                momentum)):
        model.update({f'{name}.{k}': v
                      for k, v in timm_keys(vit.state_dict()).items()})
        model.update({f'{name}.head.{k}': v for k, v in
                      moco_mlp(3, 64, 32, 16).state_dict().items()})
    model.update({f'predictor.{k}': v for k, v in
                  moco_mlp(2, 16, 32, 16).state_dict().items()})
    return {'epoch': 300, 'arch': 'vit_base',
            'state_dict': {f'module.{k}': v for k, v in model.items()},
            'optimizer': {'state': {}, 'param_groups': [{'lr': 1.5e-4}]},
            'scaler': {'scale': 65536.0}}


def test_mocov3_file_converts_like_its_timm_encoder(tmp_path):
    from tools.convert_image_ckpt import main as convert_main
    stock, momentum = random_image_vit(), random_image_vit()
    with torch.no_grad():
        for param in momentum.parameters():
            param.add_(1.0)  # the EMA copy differs from the base encoder
    ckpt = mocov3_file(stock, momentum)
    assert detect_image_layout(ckpt)[0] == 'mocov3'
    conversion = convert_image_vit(ckpt)
    assert conversion.layout == 'mocov3' and not conversion.unknown
    modules = {k[len('module.'):].split('.')[0] for k in ckpt['state_dict']}
    assert modules == {'base_encoder', 'momentum_encoder', 'predictor'}
    assert sorted(conversion.dropped) == sorted(
        k[len('module.'):] for k in ckpt['state_dict']
        if not k.startswith('module.base_encoder.')
        or k.startswith('module.base_encoder.head.'))
    assert 'MoCo v3 momentum encoder' in conversion.report()
    timm = convert_image_vit(timm_keys(stock.state_dict())).state_dict
    assert list(conversion.state_dict) == list(timm)
    x = torch.randn(2, 3, 32, 32)
    outputs = []
    for state in (conversion.state_dict, timm):
        model = VisionTransformer(arch=ARCH, img_size=32)
        model.load_state_dict({k[len('backbone.'):]: v
                               for k, v in state.items()})  # strict
        model.eval()
        with torch.no_grad():
            outputs.append(model(x)[0])
    assert torch.equal(outputs[0], outputs[1])
    with torch.no_grad():
        assert torch.equal(outputs[0], stock(x)[0])
    # The tool writes it (weights-only) without a filename rule.
    src, dst = str(tmp_path / 'checkpoint_0299.pth.tar'), str(
        tmp_path / 'mm.pth')
    torch.save(ckpt, src)
    assert convert_main([src, dst]) == 0
    saved = torch.load(dst, weights_only=True)['state_dict']
    assert all(torch.equal(saved[k], v) for k, v in timm.items())


def test_mocov3_resnet_file_is_named():
    ckpt = {'state_dict': {'module.base_encoder.conv1.weight':
                           torch.zeros(8, 3, 7, 7),
                           'module.predictor.0.weight': torch.zeros(4, 4)}}
    with pytest.raises(ValueError, match='MoCo v3 checkpoint whose base '
                       'encoder is not a ViT'):
        detect_image_layout(ckpt)
