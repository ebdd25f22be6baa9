"""What is particular to AdaptFormer on the ViT families (its shared
contract, counts included, is ``test_contract.py``; on Swin,
``test_swin.py``): each adapted block computes the paper's formula through
the stock modules, adapters add keys only under the blocks they adapt, the
ViT-B counts, and settings stopped at build."""
from typing import Callable, NamedTuple

import pytest
import torch

from tests.models.backbones.tiny_families import (VIDEO_VIT, VIT,
                                                  family_id, final_output,
                                                  on_meta_device)


# ------------------------------------------ the stock forward, per family
def video_vit_block(block, x):
    """(x after the attention residual, block output), stock modules."""
    x = x + block.attn(block.norm1(x))
    return x, x + block.mlp(block.norm2(x))


def vit_block(layer, x):
    x = x + layer.attn(layer.ln1(x))
    return x, layer.ffn(layer.ln2(x), identity=x)  # x + MLP(LN2(x))


def video_vit_tokens(stock, video):
    return stock.patch_embed(video)[0] + stock.pos_embed


def vit_tokens(stock, images):
    x = stock.patch_embed(images)[0]
    x = torch.cat((stock.cls_token.expand(len(x), -1, -1), x), 1)
    return x + stock.pos_embed


class Layout(NamedTuple):
    """What differs between the ViT families in these tests."""
    blocks: str  # the blocks' attribute and key prefix
    tokens: Callable  # (stock, input) -> the first block's input
    block: Callable  # (stock block, x) -> (x after attention, output)
    readout: Callable  # (stock, last tokens) -> the backbone's output
    spec_layers: list  # the adapted blocks of the formula test
    vit_b: dict  # ViT-B arguments
    vit_b_stock_trainable: dict  # ViT-B: trainable stock groups by default
    vit_b_trainable: int
    dropout: float  # default adapter dropout


LAYOUT = {
    VIDEO_VIT.name: Layout(
        blocks='blocks', tokens=video_vit_tokens, block=video_vit_block,
        readout=lambda stock, x: stock.fc_norm(x.mean(1)),
        spec_layers=[0, 2], vit_b={},
        vit_b_stock_trainable={'fc_norm': 2 * 768},
        vit_b_trainable=1_191_168, dropout=0.0),
    VIT.name: Layout(
        blocks='layers', tokens=vit_tokens, block=vit_block,
        readout=lambda stock, x: stock.ln1(x)[:, 0], spec_layers=[1],
        vit_b=dict(arch='base'), vit_b_stock_trainable={},
        vit_b_trainable=1_189_632, dropout=0.1),
}
VITS = [VIDEO_VIT, VIT]


def randomize_adapters(model, seed=0):
    """Every adapter parameter random (at init the up-projection is zero
    and an adapter would hide a wrong formula)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'adaptmlp' in name:
                param.normal_(0.0, 0.3)


@pytest.mark.parametrize('mode', ['parallel', 'sequential'])
@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_each_block_computes_the_spec_formula(family, mode):
    """AdaptFormer Eq. (1)-(2): the block output plus 0.1 up(ReLU(down(.)))
    of the attention output (parallel) or of the MLP branch (sequential)."""
    layout = LAYOUT[family.name]
    stock = family.stock()
    model = family.like('AdaptFormer', stock, adapter_cfg=dict(
        mode=mode, layers=layout.spec_layers)).eval()
    randomize_adapters(model)
    x = family.inputs()
    with torch.no_grad():
        tokens = layout.tokens(stock, x)
        for i, block in enumerate(getattr(stock, layout.blocks)):
            after_attn, out = layout.block(block, tokens)
            adapter = model.adapter(i)
            if adapter is None:
                tokens = block(tokens)
                continue
            source = after_attn if mode == 'parallel' else out - after_attn
            hidden = torch.relu(source @ adapter.down.weight.T +
                                adapter.down.bias)
            tokens = out + 0.1 * (hidden @ adapter.up.weight.T +
                                  adapter.up.bias)
        expected = layout.readout(stock, tokens)
        out = final_output(model(x))
        stock_out = final_output(stock(x))
    assert (out - expected).abs().max() <= 1e-5
    assert (out - stock_out).abs().max() > 1e-2  # adapters do act


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_stock_keys_unchanged_adapters_under_their_block(family):
    blocks = LAYOUT[family.name].blocks
    stock = family.stock()
    model = family.build('AdaptFormer', adapter_cfg=dict(layers=[1]))
    extra = set(model.state_dict()) - set(stock.state_dict())
    assert extra == {f'{blocks}.1.adaptmlp.{m}.{p}' for m in ('down', 'up')
                     for p in ('weight', 'bias')}
    assert set(stock.state_dict()) <= set(model.state_dict())
    assert model.adapter_layers == (1, )
    assert model.first_grad_block() == 1


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_vit_b_adapter_count_and_summary(family):
    layout = LAYOUT[family.name]
    cls = family.registry.get(f'AdaptFormer{family.name}')
    with on_meta_device():
        model = cls(**layout.vit_b, adapter_cfg=dict(bottleneck=64))
    adapters = sum(p.numel() for n, p in model.named_parameters()
                   if 'adaptmlp' in n)
    assert adapters == 1_189_632
    summary = model.tunable_summary()
    # Video trains the pooled features' norm too; images adapters only.
    assert summary.trainable == layout.vit_b_trainable
    assert {k: v for k, v in summary.groups.items()
            if 'adaptmlp' not in k} == layout.vit_b_stock_trainable
    assert f'{layout.blocks}.{{0-11}}.adaptmlp' in summary.format()
    assert summary.headline().startswith(
        f'trainable params: {layout.vit_b_trainable:,} || ')
    blocks = getattr(model, layout.blocks)
    assert blocks[0].adaptmlp.dropout.p == layout.dropout


def bad_adapter_cfgs(family):
    depth = family.depth
    return [
        (dict(bottleneck=0), 'adapter_cfg.bottleneck must be a positive int'),
        (dict(mode='serial'),
         r"adapter_cfg.mode must be one of \('parallel', 'sequential'\)"),
        (dict(layernorm='post'),
         r"adapter_cfg.layernorm must be one of \('none', 'in', 'out'\)"),
        (dict(layers=[0, depth]),
         rf'adapter_cfg.layers .* in \[0, {depth}\)'),
        (dict(bottelneck=8),
         r"adapter_cfg has unknown field\(s\) \['bottelneck'\]"),
    ]


@pytest.mark.parametrize('family, adapter_cfg, match', [
    *[(f, cfg, match) for f in VITS for cfg, match in bad_adapter_cfgs(f)],
    (VIT, dict(dropout=1.5),
     r'adapter_cfg.dropout must be a number in \[0, 1\)'),
    (VIDEO_VIT, dict(layers=[1, 1]), 'adapter_cfg.layers'),
], ids=family_id)
def test_bad_configuration_fails_at_build(family, adapter_cfg, match):
    with pytest.raises(ValueError, match=match):
        family.build('AdaptFormer', adapter_cfg=adapter_cfg)
