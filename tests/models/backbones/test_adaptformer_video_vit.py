import pytest
import torch

from adaptformer_mm.models import AdaptFormerVideoViT


def stock_block_step(block, adapter, x, mode):
    """One block by the spec, through the stock modules' own forwards."""
    x = x + block.attn(block.norm1(x))
    mlp = block.mlp(block.norm2(x))
    source = x if mode == 'parallel' else mlp
    hidden = torch.relu(source @ adapter.down.weight.T + adapter.down.bias)
    return x + mlp + 0.1 * (hidden @ adapter.up.weight.T + adapter.up.bias)


@pytest.mark.parametrize('mode', ['parallel', 'sequential'])
def test_each_block_computes_the_spec_formula(
        tiny, video, mode, randomize_adapters):
    stock = tiny.stock()
    model = tiny.like(AdaptFormerVideoViT, stock,
                      adapter_cfg=dict(mode=mode, layers=[0, 2])).eval()
    randomize_adapters(model)
    with torch.no_grad():
        x = stock.patch_embed(video)[0] + stock.pos_embed
        for i, block in enumerate(stock.blocks):
            adapter = model.adapter(i)
            x = block(x) if adapter is None else stock_block_step(
                block, adapter, x, mode)
        expected = stock.fc_norm(x.mean(1))
        out = model(video)
    assert (out - expected).abs().max() <= 1e-5
    assert (out - stock(video)).abs().max() > 1e-2  # adapters do act


def test_stock_keys_unchanged_adapters_under_blocks(tiny):
    stock = tiny.stock()
    model = AdaptFormerVideoViT(**tiny.kwargs, adapter_cfg=dict(layers=[1]))
    extra = set(model.state_dict()) - set(stock.state_dict())
    assert extra == {f'blocks.1.adaptmlp.{m}.{p}' for m in ('down', 'up')
                     for p in ('weight', 'bias')}
    assert set(stock.state_dict()) <= set(model.state_dict())
    assert model.adapter_layers == (1,)
    assert model.first_grad_block() == 1


def test_vit_b_adapter_count_and_summary():
    model = AdaptFormerVideoViT(adapter_cfg=dict(bottleneck=64))
    adapters = sum(p.numel() for n, p in model.named_parameters()
                   if 'adaptmlp' in n)
    assert adapters == 1_189_632
    summary = model.tunable_summary()
    assert summary.trainable == 1_189_632 + 2 * 768  # + fc_norm
    assert summary.groups['fc_norm'] == 1536
    assert 'blocks.{0-11}.adaptmlp' in summary.format()
    assert summary.headline().startswith('trainable params: 1,191,168 || ')


@pytest.mark.parametrize('adapter_cfg, match', [
    (dict(bottleneck=0), 'adapter_cfg.bottleneck must be a positive int'),
    (dict(mode='serial'),
     r"adapter_cfg.mode must be one of \('parallel', 'sequential'\)"),
    (dict(layernorm='post'),
     r"adapter_cfg.layernorm must be one of \('none', 'in', 'out'\)"),
    (dict(layers=[0, 3]), r'adapter_cfg.layers .* in \[0, 3\)'),
    (dict(layers=[1, 1]), 'adapter_cfg.layers'),
    (dict(bottelneck=8),
     r"adapter_cfg has unknown field\(s\) \['bottelneck'\]"),
])
def test_bad_configuration_fails_at_build(tiny, adapter_cfg, match):
    with pytest.raises(ValueError, match=match):
        AdaptFormerVideoViT(**tiny.kwargs, adapter_cfg=adapter_cfg)
