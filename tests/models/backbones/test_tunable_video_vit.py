import logging

import pytest
import torch

from adaptformer_mm.models import AdaptFormerVideoViT, TunableVideoViT
from adaptformer_mm.models.backbones import tunable_base


def saved_tensor_count(fn):
    """Tensors autograd keeps for backward while ``fn`` runs."""
    count = [0]

    def pack(t):
        count[0] += 1
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, count[0]


def test_no_block_needs_a_graph_under_probing_all_do_under_full(tiny):
    # Trainable sets, equality with stock mmaction2 (sdpa and eager) are in
    # test_contract.py; this is where the autograd graph starts.
    assert TunableVideoViT(**tiny.kwargs).first_grad_block() == 3
    assert TunableVideoViT(**tiny.kwargs,
                           tuning='full').first_grad_block() == -1


def test_sdpa_and_eager_give_equal_outputs_and_gradients(tiny, video):
    stock = tiny.stock()
    runs = []
    for impl in ('sdpa', 'eager'):
        model = tiny.like(TunableVideoViT, stock, tuning='full',
                          attn_impl=impl).train()
        out = model(video)
        out.pow(2).sum().backward()
        runs.append((out, {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=1e-5)
    for name, grad in runs[0][1].items():
        torch.testing.assert_close(grad, runs[1][1][name], rtol=1e-4,
                                   atol=1e-5, msg=name)


def test_no_graph_below_lowest_trainable_block_same_gradients(tiny, video):
    stock = tiny.stock()
    results = []
    for skip in (True, False):
        torch.manual_seed(0)
        model = tiny.like(AdaptFormerVideoViT, stock, skip_frozen_grad=skip,
                          adapter_cfg=dict(layers=[2])).train()
        torch.nn.init.normal_(model.blocks[2].adaptmlp.up.weight)
        grad_mode = []
        for block in model.blocks:
            block.norm1.register_forward_hook(
                lambda *_: grad_mode.append(torch.is_grad_enabled()))
        out, saved = saved_tensor_count(lambda: model(video))
        out.sum().backward()
        grads = {n: p.grad for n, p in model.named_parameters()
                 if p.requires_grad}
        results.append((out, saved, grads, grad_mode))
    assert model.first_grad_block() == 2
    (out_a, saved_a, grads_a, mode_a), (out_b, saved_b, grads_b,
                                        mode_b) = results
    assert mode_a == [False, False, True] and mode_b == [True] * 3
    assert saved_a <= saved_b
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=0,
                                   atol=0, msg=name)


def test_activation_checkpointing_same_gradients_less_saved(tiny, video):
    stock = tiny.stock()
    results = []
    for with_cp in (False, True):
        model = tiny.like(TunableVideoViT, stock, tuning='full',
                          with_cp=with_cp).train()
        out, saved = saved_tensor_count(lambda: model(video))
        out.sum().backward()
        results.append((out, saved, {n: p.grad for n, p in
                                     model.named_parameters()}))
    assert results[1][1] < results[0][1]
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for name, grad in results[0][2].items():
        torch.testing.assert_close(grad, results[1][2][name], rtol=1e-5,
                                   atol=1e-6, msg=name)


def test_frozen_parts_run_without_dropout_and_drop_path(tiny, video):
    drops = dict(drop_rate=0.3, attn_drop_rate=0.3, drop_path_rate=0.3)
    model = AdaptFormerVideoViT(**tiny.kwargs, **drops,
                                adapter_cfg=dict(dropout=0.5)).train()
    assert model.blocks[0].adaptmlp.training
    assert not model.blocks[0].training and not model.pos_drop.training
    torch.nn.init.normal_(model.blocks[0].adaptmlp.up.weight)
    torch.manual_seed(0)
    first = model(video)
    torch.manual_seed(0)
    assert torch.equal(first, model(video))  # frozen parts deterministic
    torch.manual_seed(1)
    assert not torch.equal(first, model(video))  # adapter dropout is on
    full = TunableVideoViT(**tiny.kwargs, **drops, tuning='full').train()
    with torch.no_grad():
        assert not torch.equal(full(video), full.eval()(video))


@pytest.mark.parametrize('frames, size', [(8, 32), (16, 32), (8, 64)])
def test_sinusoid_table_fits_other_frames_and_sizes(tiny, frames, size):
    stock = tiny.stock()
    built_for_input = tiny.like(
        TunableVideoViT, stock, num_frames=frames, img_size=size).eval()
    model = tiny.like(TunableVideoViT, stock).eval()
    clip = torch.randn(1, 3, frames, size, size)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), built_for_input(clip),
                                   rtol=0, atol=1e-6)


def test_learnable_table_is_interpolated(tiny):
    model = TunableVideoViT(**tiny.kwargs, use_learnable_pos_emb=True,
                            tuning='full')
    assert model.pos_embed_for((2, 2, 2)) is model.pos_embed
    assert model.pos_embed_for((4, 2, 2)).shape == (1, 16, 64)
    out = model(torch.randn(1, 3, 8, 32, 32))
    out.sum().backward()
    assert model.pos_embed.grad is not None


def test_loading_reports_missing_frozen_keys(tiny, monkeypatch):
    logs = []
    monkeypatch.setattr(tunable_base, 'print_log',
                        lambda msg, logger=None, level=logging.INFO:
                        logs.append((level, msg)))
    stock = tiny.stock()
    state = stock.state_dict()
    del state['blocks.1.attn.qkv.weight']
    state['blocks.1.attn.extra'] = torch.zeros(1)
    model = AdaptFormerVideoViT(**tiny.kwargs)
    model.load_state_dict(state, strict=False)
    warnings = [m for lvl, m in logs if lvl == logging.WARNING]
    assert any('FROZEN' in m and 'blocks.1.attn.qkv.weight' in m
               for m in warnings)
    assert any('blocks.1.attn.extra' in m for m in warnings)
    assert not model.blocks[1].attn.qkv.weight.requires_grad
    assert any('method tensor(s)' in m for lvl, m in logs
               if lvl == logging.INFO)


def test_load_from_style_prefixed_keys_are_reported(tiny, monkeypatch):
    """``load_from`` loads a whole recognizer through mmengine's own
    ``load_state_dict``; the backbone still names what it lacks."""
    from mmengine.runner.checkpoint import load_state_dict
    logs = []
    monkeypatch.setattr(tunable_base, 'print_log',
                        lambda msg, logger=None, level=logging.INFO:
                        logs.append((level, msg)))
    recognizer = torch.nn.Module()
    recognizer.backbone = TunableVideoViT(**tiny.kwargs)
    state = {'backbone.' + k: v for k, v in tiny.stock().state_dict().items()
             if k != 'patch_embed.projection.bias'}
    load_state_dict(recognizer, state)
    assert any(lvl == logging.WARNING and "prefix 'backbone.'" in m
               and "['patch_embed.projection.bias']" in m for lvl, m in logs)


def test_pretrained_init_cfg_loads_and_keeps_adapters_at_zero(
        tiny, tmp_path, video):
    stock = tiny.stock()
    path = str(tmp_path / 'stock.pth')
    torch.save({'state_dict': stock.state_dict()}, path)
    model = AdaptFormerVideoViT(
        **tiny.kwargs, init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        assert (model(video) - stock(video)).abs().max() <= 1e-5
    # The stock init_cfg (TruncNormal on every Linear) must not reach the
    # adapters' zero up-projection either.
    fresh = AdaptFormerVideoViT(**tiny.kwargs)
    fresh.init_weights()
    assert torch.count_nonzero(fresh.blocks[0].adaptmlp.up.weight) == 0


def test_sixteen_frame_table_loads_into_eight_frame_model(tiny):
    source = TunableVideoViT(**{**tiny.kwargs, 'num_frames': 16})
    model = TunableVideoViT(**{**tiny.kwargs, 'num_frames': 8})
    table = model.pos_embed.clone()
    model.load_state_dict(source.state_dict())
    assert torch.equal(model.pos_embed, table)


@pytest.mark.parametrize('kwargs, match', [
    (dict(tuning='lora'), r"tuning must be one of \('peft', 'full'\)"),
    (dict(attn_impl='flash'), r"attn_impl must be one of \('sdpa', 'eager'\)"),
    (dict(adapter_cfg=dict()), r"unknown argument\(s\) \['adapter_cfg'\]"),
])
def test_bad_configuration_fails_at_build(tiny, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TunableVideoViT(**tiny.kwargs, **kwargs)
