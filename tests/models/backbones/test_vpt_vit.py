import pytest
import torch

from adaptformer_mm.models import VPTViT


def step_by_step(stock, model, images):
    """VPT through the stock layers: [CLS, P, patches], prompts without
    position embedding, deep sets replace the previous prompt outputs; the
    output reads CLS, and the average pools patches only."""
    p = model.num_prompt_tokens
    slots = model._prompt_slot
    x = stock.patch_embed(images)[0]
    x = torch.cat((stock.cls_token.expand(len(x), -1, -1), x), 1)
    x = x + stock.pos_embed
    for i, layer in enumerate(stock.layers):
        if i in slots:
            prompts = model.prompts.prompts[slots[i]].expand(len(x), -1, -1)
            rest = x[:, 1:] if slots[i] == 0 else x[:, 1 + p:]
            x = torch.cat((x[:, :1], prompts, rest), 1)
        x = layer(x)
    x = stock.ln1(x)
    return x[:, 0], x[:, 1 + p:].mean(1), x[:, 1:].mean(1)


@pytest.mark.parametrize('prompt_cfg', [
    dict(num_tokens=3, deep=True),
    dict(num_tokens=3, deep=False),
    dict(num_tokens=2, deep=True, layers=[1]),
])
def test_matches_step_by_step_with_stock_layers(image_tiny, images,
                                                prompt_cfg):
    stock = image_tiny.stock()
    model = image_tiny.like(VPTViT, stock, prompt_cfg=prompt_cfg).eval()
    with torch.no_grad():
        cls, _, _ = step_by_step(stock, model, images)
        out = model(images)[0]
    assert (out - cls).abs().max() <= 1e-5
    assert (out - stock(images)[0]).abs().max() > 1e-3  # prompts do act


def test_average_pooling_excludes_prompts(image_tiny, images):
    stock = image_tiny.stock(out_type='avg_featmap')
    model = image_tiny.like(VPTViT, stock, out_type='avg_featmap',
                            prompt_cfg=dict(num_tokens=3)).eval()
    with torch.no_grad():
        _, patches, with_prompts = step_by_step(stock, model, images)
        out = model(images)[0]
    assert (out - stock.ln2(patches)).abs().max() <= 1e-5
    assert (out - stock.ln2(with_prompts)).abs().max() > 1e-3


@pytest.mark.parametrize('out_type, shape', [('featmap', (2, 64, 2, 2)),
                                             ('raw', (2, 5, 64))])
def test_other_outputs_have_stock_shapes(image_tiny, images, out_type,
                                         shape):
    model = VPTViT(**image_tiny.kwargs, out_type=out_type,
                   prompt_cfg=dict(num_tokens=4))
    assert model(images)[0].shape == shape


def test_graph_starts_at_first_prompted_block_and_reaches_prompts(
        image_tiny, images):
    model = VPTViT(**image_tiny.kwargs,
                   prompt_cfg=dict(num_tokens=2, layers=[1])).train()
    assert model.first_grad_block() == 1
    model(images)[0].pow(2).sum().backward()
    assert model.prompts.prompts.grad.abs().sum() > 0


def test_xavier_uniform_init_of_the_2d_patch():
    torch.manual_seed(0)
    model = VPTViT(arch='base', prompt_cfg=dict(num_tokens=50, deep=False))
    prompts = model.prompts.prompts
    assert 0.9 * 0.0625 < prompts.abs().max() <= 0.0625  # sqrt(6/1536)


def test_vit_b_counts_deep_and_shallow():
    for deep, expected in ((True, 460_800), (False, 38_400)):
        model = VPTViT(arch='base',
                       prompt_cfg=dict(num_tokens=50, deep=deep))
        assert model.prompts.prompts.numel() == expected
        assert model.tunable_summary().trainable == expected


def test_no_cls_token_gives_prompts_first(image_tiny, images):
    model = VPTViT(**image_tiny.kwargs, with_cls_token=False,
                   out_type='avg_featmap', prompt_cfg=dict(num_tokens=2))
    assert model.prompt_offset == 0
    assert model(images)[0].shape == (2, 64)


@pytest.mark.parametrize('prompt_cfg, match', [
    (dict(num_tokens=0), 'prompt_cfg.num_tokens must be an int >= 1'),
    (dict(init='zeros'),
     r"prompt_cfg.init must be one of \('uniform', 'normal'\)"),
    (dict(deep=False, layers=[0]), 'prompt_cfg.layers is only valid'),
    (dict(layers=[2]), r'prompt_cfg.layers .* in \[0, 2\)'),
    (dict(tokens=5), r"prompt_cfg has unknown field\(s\) \['tokens'\]"),
])
def test_bad_configuration_fails_at_build(image_tiny, prompt_cfg, match):
    with pytest.raises(ValueError, match=match):
        VPTViT(**image_tiny.kwargs, prompt_cfg=prompt_cfg)
