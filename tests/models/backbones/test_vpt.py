"""What is particular to VPT on the ViT families (its shared contract,
counts included, is ``test_contract.py``; on Swin, ``test_swin.py``): every
location and output ablation against a step-by-step computation through the
stock blocks, the defaults, the feature maps, where the graph starts, the
init, the ViT-B counts, and settings stopped at build."""
from typing import Callable, NamedTuple

import pytest
import torch

from adaptformer_mm.models import VPTVideoViT, VPTViT
from tests.models.backbones.tiny_families import (VIDEO_VIT, VIT,
                                                  family_id, final_output,
                                                  on_meta_device)


def randomize_prompts(model, seed=0):
    """Prompts far from their small init, so a wrong formula shows."""
    torch.manual_seed(seed)
    with torch.no_grad():
        model.prompts.prompts.normal_(0.0, 0.5)


# ------------------------------------------- step by step, per family
def video_vit_step_by_step(stock, model, video):
    """VPT through the stock blocks: prompts without position embedding,
    deep sets replace the previous prompt outputs, mean over patches only.
    ``location='add'`` adds set i to the patch tokens before block i;
    ``'prepend_pixel'`` embeds pixel tubelets with the stock Conv3d.
    Returns every pooled output of the final sequence by name."""
    cfg = model.prompt_cfg
    p = 0 if cfg.location == 'add' else cfg.num_tokens
    slots = model._prompt_slot
    x = stock.patch_embed(video)[0] + stock.pos_embed
    for i, block in enumerate(stock.blocks):
        if i in slots:
            prompts = model.prompts.prompts[slots[i]]
            if cfg.location == 'prepend_pixel':
                prompts = stock.patch_embed.projection(
                    prompts.reshape(-1, 3, 2, 16, 16)).flatten(1)
            prompts = prompts.expand(len(x), -1, -1)
            if cfg.location == 'add':
                x = x + prompts
            else:
                x = torch.cat((prompts, x if slots[i] == 0 else x[:, p:]), 1)
        x = block(x)
    pooled = dict(image_pool=stock.fc_norm(x[:, p:].mean(1)))
    if p:  # with location='add' both would be the image pool
        pooled['prompt_pool'] = stock.fc_norm(x[:, :p].mean(1))
        pooled['global_pool'] = stock.fc_norm(x.mean(1))
    return pooled


def vit_step_by_step(stock, model, images):
    """VPT through the stock layers: [CLS, P, patches], prompts without
    position embedding, deep sets replace the previous prompt outputs.
    ``location='add'`` adds set i to the patch tokens (not CLS) before layer
    i; ``'prepend_pixel'`` embeds pixel patches with the stock Conv2d.
    Returns every output of the final (``ln1``) sequence by name."""
    cfg = model.prompt_cfg
    p = 0 if cfg.location == 'add' else cfg.num_tokens
    slots = model._prompt_slot
    x = stock.patch_embed(images)[0]
    x = torch.cat((stock.cls_token.expand(len(x), -1, -1), x), 1)
    x = x + stock.pos_embed
    for i, layer in enumerate(stock.layers):
        if i in slots:
            prompts = model.prompts.prompts[slots[i]]
            if cfg.location == 'prepend_pixel':
                prompts = stock.patch_embed.projection(
                    prompts.reshape(-1, 3, 16, 16)).flatten(1)
            prompts = prompts.expand(len(x), -1, -1)
            if cfg.location == 'add':
                x = torch.cat((x[:, :1], x[:, 1:] + prompts), 1)
            else:
                rest = x[:, 1:] if slots[i] == 0 else x[:, 1 + p:]
                x = torch.cat((x[:, :1], prompts, rest), 1)
        x = layer(x)
    x = stock.ln1(x)
    pooled = dict(cls=x[:, 0], image_pool=x[:, 1 + p:].mean(1))
    if p:  # with location='add' both would be the image pool
        pooled['prompt_pool'] = x[:, 1:1 + p].mean(1)
        pooled['global_pool'] = x[:, 1:].mean(1)
    return pooled


class Layout(NamedTuple):
    """What differs between the ViT families in these tests."""
    step_by_step: Callable  # (stock, model, input) -> outputs by name
    default_output: str  # what output=None reads
    patch_tokens: int  # of the family's input
    patch_fan_in: int  # of the patch embedding
    late_layers: list  # prompted blocks above block 0
    vit_b: dict  # ViT-B arguments
    vit_b_stock_trainable: int  # trainable stock parameters by default


LAYOUT = {
    VIDEO_VIT.name: Layout(
        step_by_step=video_vit_step_by_step, default_output='image_pool',
        patch_tokens=4 // 2 * (32 // 16)**2, patch_fan_in=3 * 2 * 16 * 16,
        late_layers=[1, 2], vit_b={}, vit_b_stock_trainable=2 * 768),
    VIT.name: Layout(
        step_by_step=vit_step_by_step, default_output='cls',
        patch_tokens=(32 // 16)**2, patch_fan_in=3 * 16 * 16,
        late_layers=[1], vit_b=dict(arch='base'), vit_b_stock_trainable=0),
}
VITS = [VIDEO_VIT, VIT]
VIDEO_VIT_ABLATIONS = [
    dict(num_tokens=3, deep=True),
    dict(num_tokens=3, deep=False),
    dict(num_tokens=2, deep=True, layers=[1, 2]),
    # Depth ablation: bottom blocks only (the last block sees the last
    # set's outputs) and the top block only (inserted, nothing replaced).
    dict(num_tokens=2, deep=True, layers=[0, 1]),
    dict(num_tokens=2, deep=True, layers=[2]),
    # Location ablation.
    dict(num_tokens=None, location='add', deep=True),
    dict(num_tokens=None, location='add', deep=False),
    dict(num_tokens=8, location='add', layers=[0, 2]),
    dict(num_tokens=2, location='prepend_pixel', deep=False),
    # Output ablation.
    dict(num_tokens=3, output='image_pool'),
    dict(num_tokens=3, output='prompt_pool'),
    dict(num_tokens=3, output='global_pool', layers=[0, 1]),
    dict(num_tokens=2, location='prepend_pixel', deep=False,
         output='prompt_pool'),
]
VIT_ABLATIONS = [
    dict(num_tokens=3, deep=True),
    dict(num_tokens=3, deep=False),
    dict(num_tokens=2, deep=True, layers=[1]),
    dict(num_tokens=2, deep=True, layers=[0]),  # depth: bottom block only
    # Location ablation.
    dict(num_tokens=None, location='add', deep=True),
    dict(num_tokens=4, location='add', deep=False),
    dict(num_tokens=2, location='prepend_pixel', deep=False),
    # Output ablation (the CLS token is the default).
    dict(num_tokens=3, output='cls'),
    dict(num_tokens=3, output='image_pool'),
    dict(num_tokens=3, output='prompt_pool'),
    dict(num_tokens=3, output='global_pool', deep=False),
    dict(num_tokens=None, location='add', output='image_pool'),
]


@pytest.mark.parametrize(
    'family, prompt_cfg',
    [(VIDEO_VIT, cfg) for cfg in VIDEO_VIT_ABLATIONS] +
    [(VIT, cfg) for cfg in VIT_ABLATIONS], ids=family_id)
def test_matches_step_by_step_with_stock_blocks(family, prompt_cfg):
    layout = LAYOUT[family.name]
    stock = family.stock()
    model = family.like('VPT', stock, prompt_cfg=prompt_cfg).eval()
    randomize_prompts(model)
    x = family.inputs()
    with torch.no_grad():
        pooled = layout.step_by_step(stock, model, x)
        out = final_output(model(x))
        stock_out = final_output(stock(x))
    name = model.prompt_cfg.output or layout.default_output
    assert (out - pooled[name]).abs().max() <= 1e-5
    assert (out - stock_out).abs().max() > 1e-3  # the prompts do act
    others = [v for k, v in pooled.items() if k != name]
    if others:  # each output reads other tokens
        assert min((out - v).abs().max() for v in others) > 1e-3


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_default_is_prepend_and_the_family_readout_exactly(family):
    """Prompts go in front of the patches (after the CLS token) and the
    output is the family's own readout: the CLS token of an image, the
    mean over patch tokens of a clip."""
    stock = family.stock()
    default = family.like('VPT', stock, prompt_cfg=dict(num_tokens=3))
    explicit = family.like('VPT', stock, prompt_cfg=dict(
        num_tokens=3, location='prepend',
        output=LAYOUT[family.name].default_output))
    explicit.load_state_dict(default.state_dict())
    assert (default.prompt_cfg.location, default.prompt_cfg.output) == \
        ('prepend', None)
    x = family.inputs()
    with torch.no_grad():
        assert torch.equal(final_output(default.eval()(x)),
                           final_output(explicit.eval()(x)))


@pytest.mark.parametrize('output', [None, 'image_pool', 'prompt_pool',
                                    'global_pool'])
def test_vit_average_pooling_excludes_prompts(image_tiny, images, output):
    """With out_type='avg_featmap' the stock ln2 follows every mean; by
    default (and for 'image_pool') the mean is over patch tokens only."""
    stock = image_tiny.stock(out_type='avg_featmap')
    model = image_tiny.like(VPTViT, stock, out_type='avg_featmap',
                            prompt_cfg=dict(num_tokens=3,
                                            output=output)).eval()
    randomize_prompts(model)
    with torch.no_grad():
        pooled = vit_step_by_step(stock, model, images)
        out = model(images)[0]
    expected = stock.ln2(pooled[output or 'image_pool'])
    assert (out - expected).abs().max() <= 1e-5
    if output in (None, 'image_pool'):
        assert (out - stock.ln2(pooled['global_pool'])).abs().max() > 1e-3


@pytest.mark.parametrize('family, feature_map, shape', [
    (VIDEO_VIT, dict(return_feat_map=True), (2, 64, 2, 2, 2)),
    (VIT, dict(out_type='featmap'), (2, 64, 2, 2)),
    (VIT, dict(out_type='raw'), (2, 5, 64)),  # CLS + 4 patches
], ids=family_id)
def test_feature_maps_have_stock_shapes_without_prompts(family, feature_map,
                                                        shape):
    model = family.build('VPT', **feature_map, prompt_cfg=dict(num_tokens=4))
    assert final_output(model(family.inputs())).shape == shape


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_graph_starts_at_first_prompted_block_and_reaches_prompts(family):
    model = family.build('VPT', prompt_cfg=dict(
        num_tokens=2, layers=LAYOUT[family.name].late_layers)).train()
    assert model.first_grad_block() == 1
    # Weighted: the plain sum of a LayerNorm'd output does not depend on
    # its input, and its gradient is zero up to rounding.
    out = final_output(model(family.inputs()))
    torch.manual_seed(1)
    (out * torch.randn_like(out)).sum().backward()
    assert model.prompts.prompts.grad.abs().max() > 1e-4


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_xavier_uniform_init_over_the_patch_fan_in(family):
    """VPT's init: U(+-sqrt(6 / (fan_in + d))) with the patch embedding's
    fan-in (3 x 16 x 16; a video tubelet 3 x 2 x 16 x 16), deep or shallow
    (ViT-B: sqrt(6 / 1536) = 0.0625)."""
    bound = (6 / (LAYOUT[family.name].patch_fan_in + 64))**0.5
    for deep in (True, False):
        torch.manual_seed(0)
        model = family.build('VPT',
                             prompt_cfg=dict(num_tokens=50, deep=deep))
        prompts = model.prompts.prompts
        assert 0.9 * bound < prompts.abs().max() <= bound


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_vit_b_counts_deep_and_shallow(family):
    layout = LAYOUT[family.name]
    cls = family.registry.get(f'VPT{family.name}')
    for deep, expected in ((True, 460_800), (False, 38_400)):
        with on_meta_device():
            model = cls(**layout.vit_b,
                        prompt_cfg=dict(num_tokens=50, deep=deep))
        assert model.prompts.prompts.numel() == expected
        assert model.tunable_summary().trainable == \
            expected + layout.vit_b_stock_trainable


def test_vit_without_cls_token_gives_prompts_first(image_tiny, images):
    model = VPTViT(**image_tiny.kwargs, with_cls_token=False,
                   out_type='avg_featmap', prompt_cfg=dict(num_tokens=2))
    assert model.num_prefix_tokens == 0
    assert model(images)[0].shape == (2, 64)


def test_vit_add_and_pixel_prompt_shapes(image_tiny, images):
    add = VPTViT(**image_tiny.kwargs,
                 prompt_cfg=dict(num_tokens=None, location='add'))
    assert add.prompts.prompts.shape == (2, 4, 64)  # 2 layers x 4 patches
    pixel = VPTViT(**image_tiny.kwargs, prompt_cfg=dict(
        num_tokens=3, location='prepend_pixel', deep=False))
    assert pixel.prompts.prompts.shape == (1, 3, 3 * 16 * 16)
    assert pixel(images)[0].shape == add(images)[0].shape == (2, 64)


def test_video_vit_add_has_one_prompt_per_patch_token(tiny, video):
    model = VPTVideoViT(**tiny.kwargs,
                        prompt_cfg=dict(num_tokens=None, location='add'))
    # 4 frames / tubelet 2 x (32 / 16)^2 = 8 patch tokens, 3 blocks.
    assert model.prompts.prompts.shape == (3, 8, 64)
    assert model.num_prompt_tokens == 0
    assert model.tunable_summary().trainable == 3 * 8 * 64 + 128
    with pytest.raises(ValueError, match='this input has 16 patch tokens'):
        model(torch.randn(1, 3, 8, 32, 32))


def test_video_vit_pixel_prompts_are_tubelets_through_the_frozen_embedding(
        tiny, video):
    torch.manual_seed(0)
    model = VPTVideoViT(**tiny.kwargs, prompt_cfg=dict(
        num_tokens=40, location='prepend_pixel', deep=False)).train()
    prompts = model.prompts.prompts
    assert prompts.shape == (1, 40, 3 * 2 * 16 * 16)
    bound = (6 / (3 * 2 * 16 * 16 + 64))**0.5  # as latent prompts of width d
    assert 0.9 * bound < prompts.abs().max() <= bound
    assert model.first_grad_block() == 0
    # Not out.sum(): the sum of a LayerNorm'd feature does not depend on
    # its input, and its gradient is zero up to rounding.
    out = model(video)
    torch.manual_seed(1)
    (out * torch.randn_like(out)).sum().backward()
    assert prompts.grad.abs().max() > 1e-4
    assert model.patch_embed.projection.weight.grad is None


def test_video_vit_projection_option(tiny, video):
    model = VPTVideoViT(**tiny.kwargs,
                        prompt_cfg=dict(num_tokens=2, project_dim=8))
    assert model.prompts.prompts.shape == (3, 2, 8)
    model.init_weights()  # the stock TruncNormal-on-Linear is undone
    assert model.prompts.proj.bias.abs().sum() == 0
    assert model(video).shape == (2, 64)


def bad_prompt_cfgs(family):
    depth, tokens = family.depth, LAYOUT[family.name].patch_tokens
    return [
        (dict(num_tokens=0), 'prompt_cfg.num_tokens must be an int >= 1'),
        (dict(init='zeros'),
         r"prompt_cfg.init must be one of \('uniform', 'normal'\)"),
        (dict(deep=False, layers=[0]), 'prompt_cfg.layers is only valid'),
        (dict(layers=[depth]), rf'prompt_cfg.layers .* in \[0, {depth}\)'),
        (dict(tokens=5), r"prompt_cfg has unknown field\(s\) \['tokens'\]"),
        (dict(location='add', num_tokens=tokens + 1),
         rf'prompt_cfg.num_tokens must be None or {tokens} \(the patch '
         r'tokens'),
        (dict(location='prepend_pixel', deep=True), 'is shallow only'),
        (dict(location='add', num_tokens=None, output='prompt_pool'),
         "location='add' puts no prompt in the sequence"),
        (dict(location='add', num_tokens=None, output='global_pool'),
         "location='add' puts no prompt in the sequence"),
    ]


@pytest.mark.parametrize('family, prompt_cfg, match', [
    *[(f, cfg, match) for f in VITS for cfg, match in bad_prompt_cfgs(f)],
    (VIDEO_VIT, dict(deep='yes'), 'prompt_cfg.deep must be True or False'),
    (VIDEO_VIT, dict(location='middle'), r"prompt_cfg.location must be one "
     r"of \('prepend', 'add', 'prepend_pixel'\), got 'middle'"),
    (VIDEO_VIT, dict(output='mean'), r"prompt_cfg.output must be one of "
     r"\(None, 'cls', 'image_pool', 'prompt_pool', 'global_pool'\)"),
    (VIDEO_VIT, dict(num_tokens=None),
     'prompt_cfg.num_tokens must be an int >= 1'),
    (VIDEO_VIT, dict(location='prepend_pixel', deep=False, project_dim=8),
     'project_dim must be None with location'),
    (VIDEO_VIT, dict(output='cls'),
     "prompt_cfg.output='cls' reads a CLS token"),
], ids=family_id)
def test_bad_configuration_fails_at_build(family, prompt_cfg, match):
    with pytest.raises(ValueError, match=match):
        family.build('VPT', prompt_cfg=prompt_cfg)


@pytest.mark.parametrize('out_type, output, match', [
    ('avg_featmap', 'cls', "needs out_type='cls_token'"),
    ('featmap', 'image_pool', 'replaces the pooled readout'),
    ('raw', 'cls', "needs out_type='cls_token'"),
])
def test_vit_output_needs_a_pooled_out_type(image_tiny, out_type, output,
                                            match):
    with pytest.raises(ValueError, match=match):
        VPTViT(**image_tiny.kwargs, out_type=out_type,
               prompt_cfg=dict(output=output))


@pytest.mark.parametrize('extra', [dict(return_feat_map=True),
                                   dict(use_mean_pooling=False)])
@pytest.mark.parametrize('output', ['image_pool', 'global_pool'])
def test_video_vit_token_means_need_the_mean_pooled_head(tiny, extra,
                                                         output):
    with pytest.raises(ValueError, match='needs use_mean_pooling=True'):
        VPTVideoViT(**tiny.kwargs, **extra, prompt_cfg=dict(output=output))
