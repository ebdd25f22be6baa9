import pytest
import torch

from adaptformer_mm.models import VPTViT


def randomize_prompts(model, seed=0):
    """Prompts far from their small init, so a wrong formula shows."""
    torch.manual_seed(seed)
    with torch.no_grad():
        model.prompts.prompts.normal_(0.0, 0.5)


def step_by_step(stock, model, images):
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


@pytest.mark.parametrize('prompt_cfg', [
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
])
def test_matches_step_by_step_with_stock_layers(image_tiny, images,
                                                prompt_cfg):
    stock = image_tiny.stock()
    model = image_tiny.like(VPTViT, stock, prompt_cfg=prompt_cfg).eval()
    randomize_prompts(model)
    with torch.no_grad():
        pooled = step_by_step(stock, model, images)
        out = model(images)[0]
        stock_out = stock(images)[0]
    name = model.prompt_cfg.output or 'cls'
    assert (out - pooled[name]).abs().max() <= 1e-5
    assert (out - stock_out).abs().max() > 1e-3  # prompts do act
    others = [v for k, v in pooled.items() if k != name]
    assert min((out - v).abs().max() for v in others) > 1e-3


def test_default_is_prepend_and_the_cls_token_exactly(image_tiny, images):
    stock = image_tiny.stock()
    default = image_tiny.like(VPTViT, stock, prompt_cfg=dict(num_tokens=3))
    explicit = image_tiny.like(VPTViT, stock, prompt_cfg=dict(
        num_tokens=3, location='prepend', output='cls'))
    explicit.load_state_dict(default.state_dict())
    assert (default.prompt_cfg.location, default.prompt_cfg.output) == \
        ('prepend', None)
    with torch.no_grad():
        assert torch.equal(default(images)[0], explicit(images)[0])


@pytest.mark.parametrize('output', [None, 'image_pool', 'prompt_pool',
                                    'global_pool'])
def test_average_pooling_excludes_prompts(image_tiny, images, output):
    """With out_type='avg_featmap' the stock ln2 follows every mean; by
    default (and for 'image_pool') the mean is over patch tokens only."""
    stock = image_tiny.stock(out_type='avg_featmap')
    model = image_tiny.like(VPTViT, stock, out_type='avg_featmap',
                            prompt_cfg=dict(num_tokens=3,
                                            output=output)).eval()
    randomize_prompts(model)
    with torch.no_grad():
        pooled = step_by_step(stock, model, images)
        out = model(images)[0]
    expected = stock.ln2(pooled[output or 'image_pool'])
    assert (out - expected).abs().max() <= 1e-5
    if output in (None, 'image_pool'):
        assert (out - stock.ln2(pooled['global_pool'])).abs().max() > 1e-3


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
    assert model.num_prefix_tokens == 0
    assert model(images)[0].shape == (2, 64)


@pytest.mark.parametrize('prompt_cfg, match', [
    (dict(num_tokens=0), 'prompt_cfg.num_tokens must be an int >= 1'),
    (dict(init='zeros'),
     r"prompt_cfg.init must be one of \('uniform', 'normal'\)"),
    (dict(deep=False, layers=[0]), 'prompt_cfg.layers is only valid'),
    (dict(layers=[2]), r'prompt_cfg.layers .* in \[0, 2\)'),
    (dict(tokens=5), r"prompt_cfg has unknown field\(s\) \['tokens'\]"),
    (dict(location='add', num_tokens=5),
     r"prompt_cfg.num_tokens must be None or 4 \(the patch tokens"),
    (dict(location='prepend_pixel', deep=True), 'is shallow only'),
    (dict(location='add', num_tokens=None, output='global_pool'),
     "location='add' puts no prompt in the sequence"),
])
def test_bad_configuration_fails_at_build(image_tiny, prompt_cfg, match):
    with pytest.raises(ValueError, match=match):
        VPTViT(**image_tiny.kwargs, prompt_cfg=prompt_cfg)


@pytest.mark.parametrize('out_type, output, match', [
    ('avg_featmap', 'cls', "needs out_type='cls_token'"),
    ('featmap', 'image_pool', 'replaces the pooled readout'),
    ('raw', 'cls', "needs out_type='cls_token'"),
])
def test_output_needs_a_pooled_out_type(image_tiny, out_type, output, match):
    with pytest.raises(ValueError, match=match):
        VPTViT(**image_tiny.kwargs, out_type=out_type,
               prompt_cfg=dict(output=output))


def test_add_and_pixel_prompt_shapes(image_tiny, images):
    add = VPTViT(**image_tiny.kwargs,
                 prompt_cfg=dict(num_tokens=None, location='add'))
    assert add.prompts.prompts.shape == (2, 4, 64)  # 2 layers x 4 patches
    pixel = VPTViT(**image_tiny.kwargs, prompt_cfg=dict(
        num_tokens=3, location='prepend_pixel', deep=False))
    assert pixel.prompts.prompts.shape == (1, 3, 3 * 16 * 16)
    assert pixel(images)[0].shape == add(images)[0].shape == (2, 64)
