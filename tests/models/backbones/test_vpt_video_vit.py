import pytest
import torch

from adaptformer_mm.models import VPTVideoViT


def randomize_prompts(model, seed=0):
    """Prompts far from their small init, so a wrong formula shows."""
    torch.manual_seed(seed)
    with torch.no_grad():
        model.prompts.prompts.normal_(0.0, 0.5)


def step_by_step(stock, model, video):
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


@pytest.mark.parametrize('prompt_cfg', [
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
])
def test_matches_step_by_step_with_stock_blocks(tiny, video, prompt_cfg):
    stock = tiny.stock()
    model = tiny.like(VPTVideoViT, stock, prompt_cfg=prompt_cfg).eval()
    randomize_prompts(model)
    with torch.no_grad():
        pooled = step_by_step(stock, model, video)
        out = model(video)
        stock_out = stock(video)
    expected = pooled[model.prompt_cfg.output or 'image_pool']
    assert (out - expected).abs().max() <= 1e-5
    assert (out - stock_out).abs().max() > 1e-3  # the prompts do act
    if model.num_prompt_tokens:  # each output reads other tokens
        others = [v for k, v in pooled.items()
                  if k != (model.prompt_cfg.output or 'image_pool')]
        assert min((out - v).abs().max() for v in others) > 1e-3


def test_default_is_the_image_pool_exactly(tiny, video):
    stock = tiny.stock()
    default = tiny.like(VPTVideoViT, stock, prompt_cfg=dict(num_tokens=3))
    explicit = tiny.like(VPTVideoViT, stock,
                         prompt_cfg=dict(num_tokens=3, output='image_pool'))
    explicit.load_state_dict(default.state_dict())
    assert default.prompt_cfg.location == 'prepend'
    assert default.prompt_cfg.output is None
    with torch.no_grad():
        assert torch.equal(default.eval()(video), explicit.eval()(video))


def test_add_has_one_prompt_per_patch_token(tiny, video):
    model = VPTVideoViT(**tiny.kwargs,
                        prompt_cfg=dict(num_tokens=None, location='add'))
    # 4 frames / tubelet 2 x (32 / 16)^2 = 8 patch tokens, 3 blocks.
    assert model.prompts.prompts.shape == (3, 8, 64)
    assert model.num_prompt_tokens == 0
    assert model.tunable_summary().trainable == 3 * 8 * 64 + 128
    with pytest.raises(ValueError, match='this input has 16 patch tokens'):
        model(torch.randn(1, 3, 8, 32, 32))


def test_pixel_prompts_are_tubelets_through_the_frozen_embedding(tiny,
                                                                 video):
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


def test_feature_map_excludes_prompts(tiny, video):
    model = VPTVideoViT(**tiny.kwargs, return_feat_map=True,
                        prompt_cfg=dict(num_tokens=4))
    assert model(video).shape == (2, 64, 2, 2, 2)


def test_graph_starts_at_first_prompted_block_and_reaches_prompts(
        tiny, video):
    model = VPTVideoViT(**tiny.kwargs,
                        prompt_cfg=dict(num_tokens=2, layers=[1, 2])).train()
    assert model.first_grad_block() == 1
    out = model(video)  # weighted: the plain sum of fc_norm's output is flat
    torch.manual_seed(1)
    (out * torch.randn_like(out)).sum().backward()
    assert model.prompts.prompts.grad.abs().max() > 1e-4


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
    (dict(location='middle'), r"prompt_cfg.location must be one of "
     r"\('prepend', 'add', 'prepend_pixel'\), got 'middle'"),
    (dict(output='mean'), r"prompt_cfg.output must be one of \(None, 'cls', "
     r"'image_pool', 'prompt_pool', 'global_pool'\)"),
    (dict(num_tokens=None), 'prompt_cfg.num_tokens must be an int >= 1'),
    (dict(location='add', num_tokens=3),
     r"prompt_cfg.num_tokens must be None or 8 \(the patch tokens"),
    (dict(location='add', num_tokens=None, output='prompt_pool'),
     "location='add' puts no prompt in the sequence"),
    (dict(location='prepend_pixel'), 'is shallow only'),
    (dict(location='prepend_pixel', deep=False, project_dim=8),
     'project_dim must be None with location'),
    (dict(output='cls'), "prompt_cfg.output='cls' reads a CLS token"),
])
def test_bad_configuration_fails_at_build(tiny, prompt_cfg, match):
    with pytest.raises(ValueError, match=match):
        VPTVideoViT(**tiny.kwargs, prompt_cfg=prompt_cfg)


@pytest.mark.parametrize('extra', [dict(return_feat_map=True),
                                   dict(use_mean_pooling=False)])
@pytest.mark.parametrize('output', ['image_pool', 'global_pool'])
def test_token_means_need_the_mean_pooled_head(tiny, extra, output):
    with pytest.raises(ValueError, match='needs use_mean_pooling=True'):
        VPTVideoViT(**tiny.kwargs, **extra, prompt_cfg=dict(output=output))
