import pytest
import torch

from adaptformer_mm.models import AdaptFormerViT


def stock_block_step(layer, adapter, x, mode):
    """One block by the spec, through the stock modules' own forwards."""
    x = x + layer.attn(layer.ln1(x))
    out = layer.ffn(layer.ln2(x), identity=x)  # x + MLP(LN2(x))
    mlp = out - x
    source = x if mode == 'parallel' else mlp
    hidden = torch.relu(source @ adapter.down.weight.T + adapter.down.bias)
    return out + 0.1 * (hidden @ adapter.up.weight.T + adapter.up.bias)


@pytest.mark.parametrize('mode', ['parallel', 'sequential'])
def test_each_block_computes_the_spec_formula(
        image_tiny, images, mode, randomize_adapters):
    stock = image_tiny.stock()
    model = image_tiny.like(AdaptFormerViT, stock,
                            adapter_cfg=dict(mode=mode, layers=[1])).eval()
    randomize_adapters(model)
    with torch.no_grad():
        x = stock.patch_embed(images)[0]
        x = torch.cat((stock.cls_token.expand(2, -1, -1), x), 1)
        x = x + stock.pos_embed
        for i, layer in enumerate(stock.layers):
            adapter = model.adapter(i)
            x = layer(x) if adapter is None else stock_block_step(
                layer, adapter, x, mode)
        expected = stock.ln1(x)[:, 0]
        out = model(images)[0]
    assert (out - expected).abs().max() <= 1e-5
    assert (out - stock(images)[0]).abs().max() > 1e-2  # adapters do act


def test_stock_keys_unchanged_adapters_under_layers(image_tiny):
    stock = image_tiny.stock()
    model = AdaptFormerViT(**image_tiny.kwargs, adapter_cfg=dict(layers=[1]))
    extra = set(model.state_dict()) - set(stock.state_dict())
    assert extra == {f'layers.1.adaptmlp.{m}.{p}' for m in ('down', 'up')
                     for p in ('weight', 'bias')}
    assert model.adapter_layers == (1, )
    assert model.first_grad_block() == 1


def test_vit_b_adapter_count_and_summary():
    model = AdaptFormerViT(arch='base', adapter_cfg=dict(bottleneck=64))
    summary = model.tunable_summary()
    # Images train adapters only (the final norm stays frozen by default).
    assert summary.trainable == 1_189_632
    assert 'layers.{0-11}.adaptmlp' in summary.format()
    assert summary.headline().startswith('trainable params: 1,189,632 || ')
    assert model.layers[0].adaptmlp.dropout.p == 0.1


@pytest.mark.parametrize('adapter_cfg, match', [
    (dict(bottleneck=0), 'adapter_cfg.bottleneck must be a positive int'),
    (dict(mode='serial'),
     r"adapter_cfg.mode must be one of \('parallel', 'sequential'\)"),
    (dict(layernorm='post'),
     r"adapter_cfg.layernorm must be one of \('none', 'in', 'out'\)"),
    (dict(layers=[0, 2]), r'adapter_cfg.layers .* in \[0, 2\)'),
    (dict(dropout=1.5), r'adapter_cfg.dropout must be a number in \[0, 1\)'),
    (dict(bottelneck=8),
     r"adapter_cfg has unknown field\(s\) \['bottelneck'\]"),
])
def test_bad_configuration_fails_at_build(image_tiny, adapter_cfg, match):
    with pytest.raises(ValueError, match=match):
        AdaptFormerViT(**image_tiny.kwargs, adapter_cfg=adapter_cfg)
