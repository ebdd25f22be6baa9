"""What is particular to partial-k, BitFit, LoRA and the attentive probe on
the video and image backbones (their shared contract, counts included, is
``test_contract.py``): which modules train and in which mode, LoRA's merge
(equal outputs, stock keys), the probe's readout step by step, and errors at
build that name the key, the value and the valid range."""
import copy

import pytest
import torch

from adaptformer_mm.models.backbones import (AttentiveProbeVideoViT,
                                             AttentiveProbeViT,
                                             BitFitVideoViT, BitFitViT,
                                             LoRAVideoViT, LoRAViT,
                                             PartialVideoViT, PartialViT,
                                             TunableVideoViT, TunableViT)
from adaptformer_mm.peft import LoRALinear
from tests.models.backbones.tiny_families import (VIDEO_VIT, VIT,
                                                  family_id, final_output)


def randomize_lora(model, seed=3):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if '.lora.' in name:
                param.normal_(0.0, 0.3)


# ---------------------------------------------------------------- partial-k
def test_partial_trains_the_top_blocks_in_train_mode(tiny):
    model = PartialVideoViT(**tiny.kwargs, drop_path_rate=0.1,
                            partial_cfg=dict(num_blocks=2))
    assert model.partial_layers == (1, 2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters()
                         if n.startswith(('blocks.1.', 'blocks.2.',
                                          'fc_norm.'))}
    assert model.first_grad_block() == 1
    model.train()
    assert not model.blocks[0].drop_path.training
    assert model.blocks[1].drop_path.training
    assert model.blocks[2].attn.training and model.fc_norm.training


def test_partial_image_trains_the_final_norm_unless_told(image_tiny):
    model = PartialViT(**image_tiny.kwargs,
                       partial_cfg=dict(final_norm=False))
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith('layers.1.') for n in names)


@pytest.mark.parametrize('kwargs, match', [
    (dict(partial_cfg=dict(num_blocks=4)),
     r'partial_cfg.num_blocks must be in \[1, 3\] \(the backbone has '
     r'depth=3\), got 4'),
    (dict(tuning='full'), "partial_cfg needs tuning='peft'"),
])
def test_partial_errors_at_build(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        PartialVideoViT(**tiny.kwargs, **kwargs)


# ------------------------------------------------------------------ BitFit
def test_bitfit_trains_every_bias_and_nothing_else(tiny, image_tiny):
    video = BitFitVideoViT(**tiny.kwargs)
    trained = {n for n, p in video.named_parameters() if p.requires_grad}
    assert trained == set(video.bias_names) | {'fc_norm.weight'}
    assert 'blocks.0.attn.q_bias' in trained
    assert 'patch_embed.projection.bias' in trained
    assert not any(n.endswith('weight') for n in video.bias_names)
    assert video.first_grad_block() == -1  # the patch bias trains
    image = BitFitViT(**image_tiny.kwargs, bitfit_cfg=dict(norm_bias=False))
    names = set(image.bias_names)
    assert 'layers.0.attn.qkv.bias' in names
    assert not any('ln' in n for n in names)
    with pytest.raises(ValueError, match="bitfit_cfg needs tuning='peft'"):
        BitFitViT(**image_tiny.kwargs, tuning='full')


# -------------------------------------------------------------------- LoRA
@pytest.mark.parametrize('family, lora_cfg, own', [
    (VIDEO_VIT, dict(rank=4, alpha=8, targets=['qkv', 'proj', 'layers.0.0']),
     dict(attn_impl='sdpa')),
    (VIDEO_VIT, dict(rank=4, alpha=8, targets=['qkv', 'proj', 'layers.0.0']),
     dict(attn_impl='eager')),
    (VIT, dict(rank=2), {}),
], ids=family_id)
def test_lora_merge_gives_the_same_outputs_at_stock_cost(family, lora_cfg,
                                                         own):
    stock = family.stock()
    model = family.like('LoRA', stock, lora_cfg=lora_cfg,
                        **own).double().eval()
    randomize_lora(model)
    x = family.inputs().double()
    with torch.no_grad():
        unmerged = final_output(model(x))
        reference = family.like('Tunable', stock, **own).double().eval()
        assert (unmerged - final_output(reference(x))).abs().max() > 1e-3
        model.merge_lora()
        merged = final_output(model(x))
    torch.testing.assert_close(merged, unmerged, rtol=0, atol=1e-10)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert set(model.state_dict()) == set(stock.state_dict())
    plain = family.build('Tunable', **own).double()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(final_output(plain.eval()(x)), merged,
                                   rtol=0, atol=0)


def test_lora_vit_adapts_the_attention_of_every_layer_by_default(
        image_tiny):
    model = LoRAViT(**image_tiny.kwargs, lora_cfg=dict(rank=2))
    assert model.lora_targets == {0: ['attn.qkv', 'attn.proj'],
                                  1: ['attn.qkv', 'attn.proj']}


def test_lora_video_qkv_update_is_the_weight_update(tiny, video):
    """The q/v-bias path adds B A x to the same projection the merged
    weight gives: one block's qkv output equals F.linear with W + s B A."""
    model = LoRAVideoViT(**tiny.kwargs, lora_cfg=dict(
        rank=2, alpha=3, targets=['qkv'], layers=[0])).eval()
    randomize_lora(model)
    assert isinstance(model.blocks[0].attn.qkv, LoRALinear)
    assert not isinstance(model.blocks[1].attn.qkv, LoRALinear)
    merged = copy.deepcopy(model).merge_lora()
    with torch.no_grad():
        torch.testing.assert_close(model(video), merged(video))


@pytest.mark.parametrize('cfg, match', [
    (dict(targets=['qkv', 'q_proj']),
     r"lora_cfg.targets: 'q_proj' matches no linear layer of block 0; valid "
     r"names .*'attn.proj', 'attn.qkv', 'mlp.layers.0.0', 'mlp.layers.1'"),
    (dict(layers=[3]), r'lora_cfg.layers must be .* in \[0, 3\)'),
    (dict(rank=65), r'lora_cfg.rank must be in \[1, 64\]'),
])
def test_lora_errors_at_build(tiny, cfg, match):
    with pytest.raises(ValueError, match=match):
        LoRAVideoViT(**tiny.kwargs, lora_cfg=cfg)


# ---------------------------------------------------------- attentive probe
def test_video_probe_reads_the_patch_tokens(tiny, video):
    stock = tiny.stock()
    model = tiny.like(AttentiveProbeVideoViT, stock).eval()
    tokens = tiny.like(TunableVideoViT, stock, return_feat_map=True).eval()
    with torch.no_grad():
        grid = tokens(video)  # (B, d, t, h, w)
        flat = grid.flatten(2).transpose(1, 2)
        expected = model.fc_norm(model.pooler(flat))
        torch.testing.assert_close(model(video), expected)
    assert model.pooler.num_heads == tiny.kwargs['num_heads']


@pytest.mark.parametrize('out_type', ['cls_token', 'avg_featmap'])
def test_image_probe_replaces_the_readout(image_tiny, images, out_type):
    stock = image_tiny.stock(out_type=out_type)
    model = image_tiny.like(AttentiveProbeViT, stock,
                            out_type=out_type).eval()
    raw = TunableViT(**image_tiny.kwargs, out_type='raw').eval()
    raw.load_state_dict({k: v for k, v in stock.state_dict().items()
                         if not k.startswith('ln2.')})
    with torch.no_grad():
        tokens = raw(images)[-1]  # (B, 1 + N, d)
        if out_type == 'cls_token':
            expected = model.pooler(tokens)
        else:
            expected = model.ln2(model.pooler(tokens[:, 1:]))
        torch.testing.assert_close(model(images)[-1], expected)


def test_image_probe_needs_a_pooled_out_type(image_tiny):
    with pytest.raises(ValueError, match=r"the attentive probe replaces "
                       r"the pooled readout, which needs out_type in "
                       r"\('cls_token', 'avg_featmap'\).*got "
                       r"out_type='featmap'"):
        AttentiveProbeViT(**image_tiny.kwargs, out_type='featmap')
