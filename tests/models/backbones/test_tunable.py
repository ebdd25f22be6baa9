"""What is particular to the ViT families themselves, ``Tunable<Family>``
(linear probing and full tuning; their trainable sets, counts and equality
with the stock model are in ``test_contract.py``): where the autograd graph
starts and that skipping the frozen blocks keeps the gradients, activation
checkpointing, frozen parts without dropout, loading (reports, ``init_cfg``,
position tables of other sizes), the final norm, other outputs, and settings
stopped at build."""
import logging
from typing import NamedTuple

import pytest
import torch

from adaptformer_mm.models import TunableVideoViT, TunableViT
from adaptformer_mm.models.backbones import tunable_base
from tests.models.backbones.tiny_families import (VIDEO_VIT, VIT,
                                                  family_id, final_output)


class Layout(NamedTuple):
    """What differs between the ViT families in these tests."""
    blocks: str  # the blocks' attribute and key prefix
    norm1: str  # a block's first LayerNorm
    pos_drop: str  # the dropout after the position embedding
    drops: dict  # every drop rate the stock model has
    convert_hint: str  # where a loading warning sends the user


LAYOUT = {
    VIDEO_VIT.name: Layout(
        blocks='blocks', norm1='norm1', pos_drop='pos_drop',
        drops=dict(drop_rate=0.3, attn_drop_rate=0.3, drop_path_rate=0.3),
        convert_hint='tools/convert_ckpt.py'),
    VIT.name: Layout(
        blocks='layers', norm1='ln1', pos_drop='drop_after_pos',
        drops=dict(drop_rate=0.3, drop_path_rate=0.3),
        convert_hint='tools/convert_image_ckpt.py'),
}
VITS = [VIDEO_VIT, VIT]


def trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def capture_logs(monkeypatch):
    logs = []
    monkeypatch.setattr(tunable_base, 'print_log',
                        lambda msg, logger=None, level=logging.INFO:
                        logs.append((level, msg)))
    return logs


def saved_tensor_count(fn):
    """Tensors autograd keeps for backward while ``fn`` runs."""
    count = [0]

    def pack(t):
        count[0] += 1
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, count[0]


def weighted_sum(out):
    """A loss whose gradient is not flat (the plain sum of a LayerNorm'd
    output does not depend on its input)."""
    torch.manual_seed(1)
    return (out * torch.randn_like(out)).sum()


# ----------------------------------------------------- the autograd graph
@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_no_block_needs_a_graph_under_probing_all_do_under_full(family):
    # The video probe trains fc_norm, after the last block; the image probe
    # nothing: either way no block needs a graph.
    assert family.build('Tunable').first_grad_block() == family.depth
    assert family.build('Tunable', tuning='full').first_grad_block() == -1


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_no_graph_below_lowest_trainable_block_same_gradients(family):
    layout = LAYOUT[family.name]
    top = family.depth - 1
    stock = family.stock()
    x = family.inputs()
    results = []
    for skip in (True, False):
        torch.manual_seed(0)
        model = family.like('AdaptFormer', stock, skip_frozen_grad=skip,
                            adapter_cfg=dict(layers=[top],
                                             dropout=0.0)).train()
        torch.nn.init.normal_(model.adapter(top).up.weight)
        grad_mode = []
        for block in getattr(model, layout.blocks):
            getattr(block, layout.norm1).register_forward_hook(
                lambda *_: grad_mode.append(torch.is_grad_enabled()))
        out, saved = saved_tensor_count(lambda: final_output(model(x)))
        weighted_sum(out).backward()
        grads = {n: p.grad for n, p in model.named_parameters()
                 if p.requires_grad}
        results.append((out, saved, grads, grad_mode))
    assert model.first_grad_block() == top
    (out_a, saved_a, grads_a, mode_a), (out_b, saved_b, grads_b,
                                        mode_b) = results
    assert mode_a == [False] * top + [True] and mode_b == [True] * (top + 1)
    assert saved_a <= saved_b
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=0,
                                   atol=0, msg=name)


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_activation_checkpointing_same_gradients_less_saved(family):
    stock = family.stock()
    x = family.inputs()
    results = []
    for with_cp in (False, True):
        model = family.like('Tunable', stock, tuning='full',
                            with_cp=with_cp).train()
        out, saved = saved_tensor_count(lambda: final_output(model(x)))
        weighted_sum(out).backward()
        results.append((out, saved, {n: p.grad for n, p in
                                     model.named_parameters()}))
    assert results[1][1] < results[0][1]
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for name, grad in results[0][2].items():
        torch.testing.assert_close(grad, results[1][2][name], rtol=1e-5,
                                   atol=1e-6, msg=name)


def test_video_vit_sdpa_and_eager_give_equal_outputs_and_gradients(
        tiny, video):
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


# ------------------------------------------------- dropout in frozen parts
@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_frozen_parts_run_without_dropout_and_drop_path(family):
    layout = LAYOUT[family.name]
    x = family.inputs()
    model = family.build('AdaptFormer', **layout.drops,
                         adapter_cfg=dict(dropout=0.5)).train()
    block = getattr(model, layout.blocks)[0]
    assert block.adaptmlp.training
    assert not block.training and not getattr(model,
                                              layout.pos_drop).training
    torch.nn.init.normal_(block.adaptmlp.up.weight)
    torch.manual_seed(0)
    first = final_output(model(x))
    torch.manual_seed(0)
    assert torch.equal(first, final_output(model(x)))  # frozen parts fixed
    torch.manual_seed(1)
    assert not torch.equal(first, final_output(model(x)))  # adapter dropout
    full = family.build('Tunable', **layout.drops, tuning='full').train()
    with torch.no_grad():
        assert not torch.equal(final_output(full(x)),
                               final_output(full.eval()(x)))


# ----------------------------------------------------------------- loading
@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_loading_reports_missing_frozen_keys(family, monkeypatch):
    layout = LAYOUT[family.name]
    logs = capture_logs(monkeypatch)
    state = family.stock().state_dict()
    del state[f'{layout.blocks}.1.attn.qkv.weight']
    state[f'{layout.blocks}.1.attn.extra'] = torch.zeros(1)
    model = family.build('AdaptFormer')
    model.load_state_dict(state, strict=False)
    warnings = [m for lvl, m in logs if lvl == logging.WARNING]
    assert any('FROZEN' in m and f'{layout.blocks}.1.attn.qkv.weight' in m
               and layout.convert_hint in m for m in warnings)
    assert any(f'{layout.blocks}.1.attn.extra' in m for m in warnings)
    assert not getattr(model, layout.blocks)[1].attn.qkv.weight.requires_grad
    assert any('method tensor(s)' in m for lvl, m in logs
               if lvl == logging.INFO)


def test_video_vit_load_from_style_prefixed_keys_are_reported(
        tiny, monkeypatch):
    """``load_from`` loads a whole recognizer through mmengine's own
    ``load_state_dict``; the backbone still names what it lacks."""
    from mmengine.runner.checkpoint import load_state_dict
    logs = capture_logs(monkeypatch)
    recognizer = torch.nn.Module()
    recognizer.backbone = TunableVideoViT(**tiny.kwargs)
    state = {'backbone.' + k: v for k, v in tiny.stock().state_dict().items()
             if k != 'patch_embed.projection.bias'}
    load_state_dict(recognizer, state)
    assert any(lvl == logging.WARNING and "prefix 'backbone.'" in m
               and "['patch_embed.projection.bias']" in m for lvl, m in logs)


@pytest.mark.parametrize('family', VITS, ids=family_id)
def test_pretrained_init_cfg_loads_and_keeps_adapters_at_zero(
        family, tmp_path):
    stock = family.stock()
    path = str(tmp_path / 'stock.pth')
    torch.save({'state_dict': stock.state_dict()}, path)
    model = family.build('AdaptFormer', init_cfg=dict(type='Pretrained',
                                                      checkpoint=path))
    model.init_weights()
    model.eval()
    x = family.inputs()
    with torch.no_grad():
        assert (final_output(model(x)) - final_output(stock(x))).abs().max() \
            <= 1e-5
    # The stock init_cfg (TruncNormal on every Linear) must not reach the
    # adapters' zero up-projection either.
    fresh = family.build('AdaptFormer')
    fresh.init_weights()
    assert torch.count_nonzero(fresh.adapter(0).up.weight) == 0


# ------------------------------------------- position tables, other sizes
def test_vit_other_input_size_uses_the_resized_table(image_tiny):
    stock = image_tiny.stock()
    model = image_tiny.like(TunableViT, stock).eval()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], stock(x)[0], rtol=0,
                                   atol=1e-5)


def test_vit_checkpoint_table_of_another_size_is_resized_on_load(
        image_tiny):
    small = image_tiny.stock()
    model = TunableViT(**{**image_tiny.kwargs, 'img_size': 64})
    model.load_state_dict(small.state_dict())
    assert model.pos_embed.shape == (1, 1 + 16, 64)
    torch.testing.assert_close(model.pos_embed[:, 0], small.pos_embed[:, 0])


@pytest.mark.parametrize('frames, size', [(8, 32), (16, 32), (8, 64)])
def test_video_vit_sinusoid_table_fits_other_frames_and_sizes(
        tiny, frames, size):
    stock = tiny.stock()
    built_for_input = tiny.like(
        TunableVideoViT, stock, num_frames=frames, img_size=size).eval()
    model = tiny.like(TunableVideoViT, stock).eval()
    clip = torch.randn(1, 3, frames, size, size)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), built_for_input(clip),
                                   rtol=0, atol=1e-6)


def test_video_vit_learnable_table_is_interpolated(tiny):
    model = TunableVideoViT(**tiny.kwargs, use_learnable_pos_emb=True,
                            tuning='full')
    assert model.pos_embed_for((2, 2, 2)) is model.pos_embed
    assert model.pos_embed_for((4, 2, 2)).shape == (1, 16, 64)
    out = model(torch.randn(1, 3, 8, 32, 32))
    weighted_sum(out).backward()
    assert model.pos_embed.grad is not None
    assert model.pos_embed.grad.abs().max() > 1e-4


def test_video_vit_sixteen_frame_table_loads_into_eight_frame_model(tiny):
    source = TunableVideoViT(**{**tiny.kwargs, 'num_frames': 16})
    model = TunableVideoViT(**{**tiny.kwargs, 'num_frames': 8})
    table = model.pos_embed.clone()
    model.load_state_dict(source.state_dict())
    assert torch.equal(model.pos_embed, table)


# ------------------------------------------------- final norm and outputs
def test_vit_train_final_norm_follows_the_output(image_tiny):
    # The probe / final-norm / full trainable sets are in test_contract.py.
    pooled = TunableViT(**image_tiny.kwargs, train_final_norm=True,
                        out_type='avg_featmap')
    assert trainable(pooled) == {'ln2.weight', 'ln2.bias'}


@pytest.mark.parametrize('overrides', [
    dict(out_type='avg_featmap'),  # default options: test_contract.py
    dict(out_type='featmap', final_norm=False),
    dict(out_type='raw', out_indices=[0, 1]),
    dict(layer_scale_init_value=0.1),
])
def test_vit_equals_stock_mmpretrain(image_tiny, images, overrides):
    stock = image_tiny.stock(**overrides)
    model = image_tiny.like(TunableViT, stock, **overrides).eval()
    with torch.no_grad():
        outs, expected = model(images), stock(images)
    assert len(outs) == len(expected)
    for out, ref in zip(outs, expected):
        assert out.shape == ref.shape
        assert (out - ref).abs().max() <= 1e-5


# ------------------------------------------------------- bad input at build
@pytest.mark.parametrize('family, kwargs, error, match', [
    *[(f, dict(tuning='lora'), ValueError,
       r"tuning must be one of \('peft', 'full'\)") for f in VITS],
    *[(f, dict(adapter_cfg=dict()), TypeError,
       rf"unknown argument\(s\) \['adapter_cfg'\]; valid: \['{first}'")
      for f, first in ((VIDEO_VIT, 'img_size'), (VIT, 'arch'))],
    (VIDEO_VIT, dict(attn_impl='flash'), ValueError,
     r"attn_impl must be one of \('sdpa', 'eager'\)"),
    (VIT, dict(frozen_stages=2), ValueError,
     "frozen_stages=2 .* tuning='peft'"),
    (VIT, dict(train_final_norm=True, final_norm=False), ValueError,
     "train_final_norm=True needs a final norm"),
], ids=family_id)
def test_bad_configuration_fails_at_build(family, kwargs, error, match):
    with pytest.raises(error, match=match):
        family.build('Tunable', **kwargs)
