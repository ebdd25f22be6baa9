import pytest
import torch

from adaptformer_mm.models import VPTVideoViT


def step_by_step(stock, model, video):
    """VPT through the stock blocks: prompts without position embedding,
    deep sets replace the previous prompt outputs, mean over patches only."""
    p = model.num_prompt_tokens
    slots = model._prompt_slot
    x = stock.patch_embed(video)[0] + stock.pos_embed
    for i, block in enumerate(stock.blocks):
        if i in slots:
            prompts = model.prompts.prompts[slots[i]].expand(len(x), -1, -1)
            x = torch.cat((prompts, x if slots[i] == 0 else x[:, p:]), 1)
        x = block(x)
    return stock.fc_norm(x[:, p:].mean(1)), stock.fc_norm(x.mean(1))


@pytest.mark.parametrize('prompt_cfg', [
    dict(num_tokens=3, deep=True),
    dict(num_tokens=3, deep=False),
    dict(num_tokens=2, deep=True, layers=[1, 2]),
])
def test_matches_step_by_step_with_stock_blocks(tiny, video, prompt_cfg):
    stock = tiny.stock()
    model = tiny.like(VPTVideoViT, stock, prompt_cfg=prompt_cfg).eval()
    with torch.no_grad():
        expected, with_prompts_pooled = step_by_step(stock, model, video)
        out = model(video)
    assert (out - expected).abs().max() <= 1e-5
    assert (out - with_prompts_pooled).abs().max() > 1e-3


def test_feature_map_excludes_prompts(tiny, video):
    model = VPTVideoViT(**tiny.kwargs, return_feat_map=True,
                        prompt_cfg=dict(num_tokens=4))
    assert model(video).shape == (2, 64, 2, 2, 2)


def test_graph_starts_at_first_prompted_block_and_reaches_prompts(
        tiny, video):
    model = VPTVideoViT(**tiny.kwargs,
                        prompt_cfg=dict(num_tokens=2, layers=[1, 2])).train()
    assert model.first_grad_block() == 1
    model(video).sum().backward()
    assert model.prompts.prompts.grad.abs().sum() > 0


def test_tubelet_aware_uniform_init(tiny):
    torch.manual_seed(0)
    model = VPTVideoViT(**tiny.kwargs, prompt_cfg=dict(num_tokens=50))
    bound = (6 / (3 * 2 * 16 * 16 + 64))**0.5
    assert model.prompts.prompts.abs().max() <= bound
    assert model.prompts.prompts.abs().max() > 0.9 * bound


def test_vit_b_counts_deep_and_shallow():
    for deep, expected in ((True, 460_800), (False, 38_400)):
        model = VPTVideoViT(prompt_cfg=dict(num_tokens=50, deep=deep))
        assert model.prompts.prompts.numel() == expected
        assert model.tunable_summary().trainable == expected + 1536


def test_projection_option(tiny, video):
    model = VPTVideoViT(**tiny.kwargs,
                        prompt_cfg=dict(num_tokens=2, project_dim=8))
    assert model.prompts.prompts.shape == (3, 2, 8)
    model.init_weights()  # the stock TruncNormal-on-Linear is undone
    assert model.prompts.proj.bias.abs().sum() == 0
    assert model(video).shape == (2, 64)


@pytest.mark.parametrize('prompt_cfg, match', [
    (dict(num_tokens=0), 'prompt_cfg.num_tokens must be an int >= 1'),
    (dict(init='zeros'),
     r"prompt_cfg.init must be one of \('uniform', 'normal'\)"),
    (dict(deep=False, layers=[0]), 'prompt_cfg.layers is only valid'),
    (dict(layers=[3]), r'prompt_cfg.layers .* in \[0, 3\)'),
    (dict(deep='yes'), 'prompt_cfg.deep must be True or False'),
    (dict(tokens=5), r"prompt_cfg has unknown field\(s\) \['tokens'\]"),
])
def test_bad_configuration_fails_at_build(tiny, prompt_cfg, match):
    with pytest.raises(ValueError, match=match):
        VPTVideoViT(**tiny.kwargs, prompt_cfg=prompt_cfg)
