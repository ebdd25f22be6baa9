import logging

import pytest
import torch

from adaptformer_mm.models import AdaptFormerViT, TunableViT
from adaptformer_mm.models.backbones import tunable_base


def trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def capture_logs(monkeypatch):
    logs = []
    monkeypatch.setattr(tunable_base, 'print_log',
                        lambda msg, logger=None, level=logging.INFO:
                        logs.append((level, msg)))
    return logs


def test_train_final_norm_follows_the_output_and_sets_the_graph_start(
        image_tiny):
    # The probe / final-norm / full trainable sets are in test_contract.py.
    pooled = TunableViT(**image_tiny.kwargs, train_final_norm=True,
                        out_type='avg_featmap')
    assert trainable(pooled) == {'ln2.weight', 'ln2.bias'}
    assert TunableViT(**image_tiny.kwargs).first_grad_block() == 2
    assert TunableViT(**image_tiny.kwargs,
                      tuning='full').first_grad_block() == -1


@pytest.mark.parametrize('overrides', [
    dict(out_type='avg_featmap'),  # default options: test_contract.py
    dict(out_type='featmap', final_norm=False),
    dict(out_type='raw', out_indices=[0, 1]),
    dict(layer_scale_init_value=0.1),
])
def test_equals_stock_mmpretrain(image_tiny, images, overrides):
    stock = image_tiny.stock(**overrides)
    model = image_tiny.like(TunableViT, stock, **overrides).eval()
    with torch.no_grad():
        outs, expected = model(images), stock(images)
    assert len(outs) == len(expected)
    for out, ref in zip(outs, expected):
        assert out.shape == ref.shape
        assert (out - ref).abs().max() <= 1e-5


def test_other_input_size_uses_the_resized_table(image_tiny):
    stock = image_tiny.stock()
    model = image_tiny.like(TunableViT, stock).eval()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], stock(x)[0], rtol=0,
                                   atol=1e-5)


def test_checkpoint_table_of_another_size_is_resized_on_load(image_tiny):
    small = image_tiny.stock()
    model = TunableViT(**{**image_tiny.kwargs, 'img_size': 64})
    model.load_state_dict(small.state_dict())
    assert model.pos_embed.shape == (1, 1 + 16, 64)
    torch.testing.assert_close(model.pos_embed[:, 0], small.pos_embed[:, 0])


def test_no_graph_below_lowest_trainable_block_same_gradients(
        image_tiny, images):
    stock = image_tiny.stock()
    results = []
    for skip in (True, False):
        torch.manual_seed(0)
        model = image_tiny.like(AdaptFormerViT, stock, skip_frozen_grad=skip,
                                adapter_cfg=dict(layers=[1],
                                                 dropout=0.0)).train()
        torch.nn.init.normal_(model.layers[1].adaptmlp.up.weight)
        modes = []
        for layer in model.layers:
            layer.ln1.register_forward_hook(
                lambda *_: modes.append(torch.is_grad_enabled()))
        out = model(images)[0]
        out.sum().backward()
        results.append((out, modes, {n: p.grad for n, p in
                                     model.named_parameters()
                                     if p.requires_grad}))
    (out_a, modes_a, grads_a), (out_b, modes_b, grads_b) = results
    assert modes_a == [False, True] and modes_b == [True, True]
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=0,
                                   atol=0, msg=name)


def test_frozen_parts_run_without_dropout_and_drop_path(image_tiny, images):
    drops = dict(drop_rate=0.3, drop_path_rate=0.3)
    model = AdaptFormerViT(**image_tiny.kwargs, **drops).train()
    assert model.layers[0].adaptmlp.training
    assert not model.layers[0].training and not model.drop_after_pos.training
    assert model.layers[0].adaptmlp.dropout.p == 0.1  # image default
    torch.nn.init.normal_(model.layers[0].adaptmlp.up.weight)
    torch.manual_seed(0)
    first = model(images)[0]
    torch.manual_seed(0)
    assert torch.equal(first, model(images)[0])  # frozen parts deterministic
    torch.manual_seed(1)
    assert not torch.equal(first, model(images)[0])  # adapter dropout is on
    full = TunableViT(**image_tiny.kwargs, **drops, tuning='full').train()
    with torch.no_grad():
        assert not torch.equal(full(images)[0], full.eval()(images)[0])


def test_activation_checkpointing_same_gradients(image_tiny, images):
    stock = image_tiny.stock()
    grads = []
    for with_cp in (False, True):
        model = image_tiny.like(TunableViT, stock, tuning='full',
                                with_cp=with_cp).train()
        model(images)[0].sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], rtol=1e-5,
                                   atol=1e-6, msg=name)


def test_loading_reports_missing_frozen_keys(image_tiny, monkeypatch):
    logs = capture_logs(monkeypatch)
    state = image_tiny.stock().state_dict()
    del state['layers.1.attn.qkv.weight']
    state['layers.1.attn.extra'] = torch.zeros(1)
    model = AdaptFormerViT(**image_tiny.kwargs)
    model.load_state_dict(state, strict=False)
    warnings = [m for lvl, m in logs if lvl == logging.WARNING]
    assert any('FROZEN' in m and 'layers.1.attn.qkv.weight' in m
               and 'tools/convert_image_ckpt.py' in m for m in warnings)
    assert any('layers.1.attn.extra' in m for m in warnings)
    assert not model.layers[1].attn.qkv.weight.requires_grad


def test_pretrained_init_cfg_loads_and_keeps_adapters_at_zero(
        image_tiny, images, tmp_path):
    stock = image_tiny.stock()
    path = str(tmp_path / 'stock.pth')
    torch.save({'state_dict': stock.state_dict()}, path)
    model = AdaptFormerViT(
        **image_tiny.kwargs, init_cfg=dict(type='Pretrained',
                                           checkpoint=path))
    model.init_weights()
    with torch.no_grad():
        assert (model.eval()(images)[0] - stock(images)[0]).abs().max() \
            <= 1e-5
    fresh = AdaptFormerViT(**image_tiny.kwargs)
    fresh.init_weights()  # the stock init must not reach the adapters
    assert torch.count_nonzero(fresh.layers[0].adaptmlp.up.weight) == 0


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(tuning='lora'), ValueError,
     r"tuning must be one of \('peft', 'full'\)"),
    (dict(frozen_stages=2), ValueError, "frozen_stages=2 .* tuning='peft'"),
    (dict(adapter_cfg=dict()), TypeError,
     r"unknown argument\(s\) \['adapter_cfg'\]; valid: \['arch'"),
    (dict(train_final_norm=True, final_norm=False), ValueError,
     "train_final_norm=True needs a final norm"),
])
def test_bad_configuration_fails_at_build(image_tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        TunableViT(**image_tiny.kwargs, **kwargs)
