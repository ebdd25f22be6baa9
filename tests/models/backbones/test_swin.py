"""What is particular to the Swin backbones (the shared checks are rows of
test_contract.py): VPT's prompts in the windows against a step-by-step
computation, prompt merging, deep replacement, no mixing across the batch,
the per-stage init and counts, the per-stage AdaptFormer bottleneck, bad
settings stopped at build, task files and the multi-task recognizer.

The Swins are ``VIDEO_SWIN`` and ``SWIN`` of ``tiny_families.py``: width 32
then 64, 2 + 2 blocks, windows of 4 (video 2x4x4), inputs 32x32 (video 4
frames).
"""
import itertools
import math

import pytest
import torch
from mmengine.config import Config
from torch import nn

from adaptformer_mm.apis import MultiTaskRecognizer, build_model
from adaptformer_mm.apis.inference import predict_scores, video_data
from adaptformer_mm.peft import AdaptMLP
from adaptformer_mm.peft.swin_adapter import SwinAdapterConfig
from adaptformer_mm.peft.task_file import load_task_file, write_task_file
from tests.models.backbones.tiny_families import (SWIN, VIDEO_SWIN,
                                                  family_id, final_output,
                                                  on_meta_device)

SWINS = [VIDEO_SWIN, SWIN]


def pretrained(family, method, **own):
    """``method`` on ``family`` with the stock weights, in eval mode."""
    return family.like(method, family.stock(), **own).eval()


# ------------------------------------------- VPT: a step-by-step reference
def window_geometry(family, block, grid):
    """(window, shift) as the stock block uses them (no padding here)."""
    if family.is_video:
        from mmaction.models.backbones.swin import get_window_size
        return get_window_size(grid, block.window_size, block.shift_size)
    msa = block.attn
    shift = msa.shift_size if min(grid) > msa.window_size else 0
    return (msa.window_size, ) * 2, (shift, ) * 2


def attention_module(family, block):
    return block.attn if family.is_video else block.attn.w_msa


def mlp(family, block, x):
    if family.is_video:
        return block.mlp(block.norm2(x))
    return block.ffn.layers(block.norm2(x))


def region(pos, size, window, shift):
    """Swin's shifted-window regions along one axis of the rolled map."""
    if not shift:
        return 0
    return 0 if pos < size - window else (1 if pos < size - shift else 2)


def reference_block(family, block, x, prompts):
    """One Swin block on ``[P, patches]``, window by window, with explicit
    loops: the prompts (after LN1) join every window with zero bias and no
    mask, their outputs are averaged over the sample's windows, then the
    residuals and the MLP act on prompts and patches alike."""
    b, *grid, c = x.shape
    dims = len(grid)
    window, shift = window_geometry(family, block, tuple(grid))
    attn = attention_module(family, block)
    heads = attn.num_heads
    xn, pn = block.norm1(x), block.norm1(prompts)
    rolled = torch.roll(xn, shifts=[-s for s in shift],
                        dims=list(range(1, dims + 1)))
    out = torch.zeros_like(rolled)
    p_out = torch.zeros_like(prompts)
    p = prompts.shape[1]
    table = attn.relative_position_bias_table
    origins = list(itertools.product(
        *[range(0, g, w) for g, w in zip(grid, window)]))
    for i in range(b):
        for origin in origins:
            coords = list(itertools.product(
                *[range(o, o + w) for o, w in zip(origin, window)]))
            tokens = torch.stack([rolled[(i, *pos)] for pos in coords])
            seq = torch.cat((pn[i], tokens))
            n = len(coords)
            bias = torch.zeros(heads, p + n, p + n)
            for a, pa in enumerate(coords):
                for z, pz in enumerate(coords):
                    # Swin's table index of the offset pa - pz.
                    index = 0
                    for d in range(dims):
                        index = index * (2 * window[d] - 1) + \
                            pa[d] - pz[d] + window[d] - 1
                    bias[:, p + a, p + z] = table[index]
                    ra = [region(pa[d], grid[d], window[d], shift[d])
                          for d in range(dims)]
                    rz = [region(pz[d], grid[d], window[d], shift[d])
                          for d in range(dims)]
                    if ra != rz:
                        bias[:, p + a, p + z] -= 100.0
            q, k, v = attn.qkv(seq).reshape(p + n, 3, heads,
                                            c // heads).permute(1, 2, 0, 3)
            weights = ((q * attn.scale) @ k.transpose(-2, -1) + bias)
            y = attn.proj((weights.softmax(-1) @ v).transpose(0, 1).reshape(
                p + n, c))
            p_out[i] += y[:p] / len(origins)
            for a, pos in enumerate(coords):
                out[(i, *pos)] = y[p + a]
    out = torch.roll(out, shifts=list(shift), dims=list(range(1, dims + 1)))
    x = x + out
    prompts = prompts + p_out
    return x + mlp(family, block, x), prompts + mlp(family, block, prompts)


@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_prompts_join_every_window_as_a_step_by_step_computation(family):
    model = pretrained(family, 'VPT',
                       prompt_cfg=dict(num_tokens=2, deep=False))
    x = family.inputs()
    with torch.no_grad():
        (grid, prompts), _ = model.embed(x)
        assert prompts is None
        # Block 0 inserts the shallow set; block 1 (shifted windows) carries
        # the prompts on.
        state = model.forward_block(0, (grid, None))
        first = model.prompts['0'](0, x.shape[0])
        ref = reference_block(family, model.tunable_blocks[0], grid, first)
        for a, r in zip(state, ref):
            torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-4)
        block = model.tunable_blocks[1]
        assert any(s > 0 for s in window_geometry(
            family, block, tuple(state[0].shape[1:-1]))[1])
        out = model.forward_block(1, state)
        ref = reference_block(family, block, *state)
        for a, r in zip(out, ref):
            torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_prompts_merge_as_vpt_concatenates_four_copies(family):
    """VPT's PromptedPatchMerging: cat(p, p, p, p) then the stock norm and
    reduction. mmcv's merging (image) orders the 4C channels as its Unfold
    does (each channel for the 4 positions), so there the four copies are
    interleaved; it is the same tile of copies."""
    model = pretrained(family, 'VPT', prompt_cfg=dict(num_tokens=2,
                                                      deep=False))
    torch.manual_seed(0)
    prompts = torch.randn(2, 2, 32)
    merge = model.swin_stages[0].downsample
    if family.is_video:
        four = torch.cat([prompts] * 4, dim=-1)
    else:
        four = prompts.repeat_interleave(4, dim=-1)
    expected = merge.reduction(merge.norm(four))
    with torch.no_grad():
        got = model.merge_prompts(0, prompts, 3 if family.is_video else 2)
        torch.testing.assert_close(got, expected.detach())
        # Through the forward: shallow prompts cross into stage 1.
        _, carried = model.merge(0, (torch.randn(2, *(
            (2, 8, 8) if family.is_video else (8, 8)), 32), prompts))
    assert carried.shape == (2, 2, 64)


@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_deep_sets_replace_and_shallow_prompts_carry(family):
    deep = pretrained(family, 'VPT', prompt_cfg=dict(num_tokens=2))
    shallow = pretrained(family, 'VPT', prompt_cfg=dict(num_tokens=2,
                                                        deep=False))
    x = family.inputs()
    with torch.no_grad():
        (grid, _), _ = deep.embed(x)
        a, b = torch.randn(2, 2, 32), torch.randn(2, 2, 32)
        # Block 1 of deep VPT discards what it is given.
        for s, t in zip(deep.forward_block(1, (grid, a)),
                        deep.forward_block(1, (grid, b))):
            assert torch.equal(s, t)
        # Shallow VPT's block 1 works on the carried prompts.
        assert not torch.equal(shallow.forward_block(1, (grid, a))[0],
                               shallow.forward_block(1, (grid, b))[0])
        # Before the first prompted block nothing is prompted.
        late = pretrained(family, 'VPT',
                          prompt_cfg=dict(num_tokens=2, layers=[2]))
        assert late.forward_block(0, (grid, None))[1] is None
    assert [tuple(t.prompts.shape) for t in deep.prompts.values()] == \
        [(2, 2, 32), (2, 2, 64)]


@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_a_sample_meets_only_its_own_prompts(family):
    """VPT's released code expands prompts window-major against sample-major
    windows, so one sample's output moves with another's; here it does not.
    """
    model = pretrained(family, 'VPT', prompt_cfg=dict(num_tokens=2,
                                                      deep=False))
    x = family.inputs()
    y = x.clone()
    y[1] = torch.randn_like(y[1])
    with torch.no_grad():
        out_x = final_output(model(x))
        out_y = final_output(model(y))
    torch.testing.assert_close(out_x[0], out_y[0], rtol=0, atol=1e-6)
    assert not torch.allclose(out_x[1], out_y[1])


@pytest.mark.parametrize('family, fan_in', [(VIDEO_SWIN, 3 * 2 * 4 * 4),
                                            (SWIN, 3 * 4 * 4)],
                         ids=family_id)
def test_every_stage_uses_vpt_bound_of_stage_zero(family, fan_in):
    model = family.build('VPT', prompt_cfg=dict(num_tokens=50))
    bound = math.sqrt(6.0 / (fan_in + 32))
    for tokens in (model.prompts['0'], model.prompts['1']):
        assert tokens.prompts.abs().max() <= bound
        assert tokens.prompts.abs().max() > 0.95 * bound
        tokens.prompts.data.zero_()
        tokens.init_weights()  # what mmengine's init_weights calls
        assert 0.95 * bound < tokens.prompts.abs().max() <= bound


# -------------------------------------------------------------- AdaptFormer
def test_default_bottleneck_is_width_over_12_per_stage():
    model = SWIN.build('AdaptFormer')
    assert model.adapter_bottlenecks == (2, 5)
    assert model.stages[0].blocks[1].adaptmlp.bottleneck == 2
    assert model.stages[1].blocks[0].adaptmlp.down.weight.shape == (5, 64)
    assert model.stages[0].blocks[0].adaptmlp.dropout.p == 0.1
    video = VIDEO_SWIN.build('AdaptFormer',
                             adapter_cfg=dict(bottleneck=[3, 6]))
    assert video.adapter_bottlenecks == (3, 6)
    assert video.layers[1].blocks[1].adaptmlp.dropout.p == 0.0
    assert SwinAdapterConfig().stage_bottlenecks([128, 256, 512, 1024]) == \
        (10, 21, 42, 85)


def test_swin_b_counts():
    """Swin-B (depths 2/2/18/2, widths 128..1024); the formulas are the
    contract's, checked there on tiny Swins."""
    widths, depths = [128, 256, 512, 1024], [2, 2, 18, 2]

    def adapter_params(**adapter_cfg):
        """Every block's AdaptMLP, built with its stage's config."""
        cfg = SwinAdapterConfig.from_cfg(adapter_cfg)
        with on_meta_device():
            return sum(n * sum(
                p.numel() for p in AdaptMLP(w, stage_cfg).parameters())
                for n, w, stage_cfg in zip(depths, widths,
                                           cfg.stage_configs(widths)))

    assert adapter_params() == 1_161_948
    assert adapter_params(bottleneck=64) == 2 * (
        2 * 64 * 128 + 64 + 128) + 2 * (2 * 64 * 256 + 64 + 256) + 18 * (
            2 * 64 * 512 + 64 + 512) + 2 * (2 * 64 * 1024 + 64 + 1024)
    assert sum(d * w for d, w in zip(depths, widths)) == 12_032  # VPT / token


@pytest.mark.parametrize('mode', ['parallel', 'sequential'])
def test_adapter_equation_on_a_swin_block(mode):
    model = pretrained(VIDEO_SWIN, 'AdaptFormer',
                       adapter_cfg=dict(bottleneck=4, mode=mode))
    torch.manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'adaptmlp' in name:
                param.normal_(0.0, 0.3)
        grid, _ = model.embed(VIDEO_SWIN.inputs())
        block = model.tunable_blocks[1]
        stock = block(grid, _stage_mask(model, grid))
        x1 = grid + model.attn_branch(block, grid)
        m = block.forward_part2(x1)
        s = block.adaptmlp
        source = x1 if mode == 'parallel' else m
        adapter = 0.1 * s.up(torch.relu(s.down(source)))
        # The stock (shifted-window) block is x1 + m; the adapter adds to it.
        torch.testing.assert_close(stock, x1 + m)
        torch.testing.assert_close(model.forward_block(1, grid),
                                   x1 + m + adapter)
        assert not torch.allclose(stock, x1 + m + adapter)


def _stage_mask(model, grid):
    from mmaction.models.backbones.swin import compute_mask, get_window_size
    layer = model.layers[0]
    _, d, h, w, _ = grid.shape
    window, shift = get_window_size((d, h, w), layer.window_size,
                                    layer.shift_size)
    return compute_mask(d, h, w, window, shift, grid.device)


# ------------------------------------------------------- bad input at build
@pytest.mark.parametrize('own, words', [
    (dict(adapter_cfg=dict(bottleneck=[4, 8, 16])),
     ['adapter_cfg.bottleneck', '[4, 8, 16]', '2 stages', '[32, 64]']),
    (dict(adapter_cfg=dict(bottleneck=[4, 0])),
     ['adapter_cfg.bottleneck', '[4, 0]', 'one per stage']),
    (dict(adapter_cfg=dict(bottleneck='8')), ['adapter_cfg.bottleneck']),
    (dict(adapter_cfg=dict(layers=[4])), ['adapter_cfg.layers', '[0, 4)']),
    (dict(adapter_cfg=dict(mode='serial')),
     ['adapter_cfg.mode', "'serial'", 'parallel']),
])
@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_adapter_settings_that_do_not_fit_stop_at_build(family, own, words):
    with pytest.raises(ValueError) as err:
        family.build('AdaptFormer', **own)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


@pytest.mark.parametrize('prompt_cfg, words', [
    (dict(project_dim=8), ['prompt_cfg.project_dim', '8', 'None']),
    (dict(layers=[0, 4]), ['prompt_cfg.layers', '[0, 4)']),
    (dict(location='add'), ['prompt_cfg.location', "'add'", "'prepend'"]),
    (dict(output='prompt_pool'), ['prompt_cfg.output', 'prompt_pool']),
    (dict(num_tokens=0), ['prompt_cfg.num_tokens', '0']),
])
@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_prompt_settings_that_do_not_fit_stop_at_build(family, prompt_cfg,
                                                       words):
    with pytest.raises(ValueError) as err:
        family.build('VPT', prompt_cfg=prompt_cfg)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_stock_freezing_and_unknown_arguments_are_refused(family):
    with pytest.raises(ValueError, match='frozen_stages=1'):
        family.build('Tunable', frozen_stages=1)
    with pytest.raises(TypeError, match='bottlenek'):
        family.build('AdaptFormer', bottlenek=8)


# ------------------------------------------- task files and many tasks
VIDEO_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


def video_cfg(method, num_classes, **own):
    return Config(dict(
        default_scope='mmaction',
        model=dict(
            type='Recognizer3D',
            backbone=dict(type=f'{method}VideoSwin', **VIDEO_SWIN.kwargs,
                          **own),
            cls_head=dict(type='I3DHead', num_classes=num_classes,
                          in_channels=64, average_clips='score'),
            data_preprocessor=dict(
                type='ActionDataPreprocessor', mean=[114.0] * 3,
                std=[57.0] * 3, format_shape='NCTHW')),
        test_pipeline=VIDEO_PIPELINE,
        test_dataloader=dict(dataset=dict(metainfo=dict(
            classes=[f'c{i}' for i in range(num_classes)])))))


def as_trained(model, backbone_state, seed):
    model.load_state_dict(backbone_state, strict=False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return model.eval()


def test_video_swin_task_files_share_one_backbone(tmp_path):
    stock = VIDEO_SWIN.stock()
    backbone = str(tmp_path / 'swin.pth')
    torch.save({'state_dict': stock.state_dict()}, backbone)
    frozen = {f'backbone.{k}': v for k, v in stock.state_dict().items()}
    specs = dict(adapters=video_cfg('AdaptFormer', 3),
                 prompts=video_cfg('VPT', 4, prompt_cfg=dict(num_tokens=2)))
    recognizer = MultiTaskRecognizer(backbone)
    models = {}
    for seed, (name, cfg) in enumerate(specs.items()):
        models[name] = as_trained(build_model(cfg), frozen, seed)
        path = str(tmp_path / f'{name}.pth')
        write_task_file(path, models[name], config=cfg.pretty_text,
                        classes=[f'{name}{i}' for i in range(
                            cfg.model.cls_head.num_classes)])
        recognizer.add_task(name, path)
    torch.manual_seed(5)
    clip = torch.rand(3, 4, 32, 32) * 255
    for name, model in models.items():
        expected = predict_scores(model, video_data(clip, None))
        assert torch.equal(recognizer.predict(clip, task=name).scores,
                           expected)
    tables = {name: recognizer.task(name).model.backbone.layers[0].blocks[0]
              .attn.qkv.weight.data_ptr() for name in specs}
    assert len(set(tables.values())) == 1


def test_image_swin_task_file_restores_the_classifier(tmp_path):
    cfg = Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='AdaptFormerSwin', **SWIN.kwargs),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=64))))
    stock = SWIN.stock()
    frozen = {f'backbone.{k}': v for k, v in stock.state_dict().items()}
    trained = as_trained(build_model(cfg), frozen, seed=1)
    path = str(tmp_path / 'task.pth')
    task = write_task_file(path, trained, config=cfg.pretty_text)
    assert set(task.state_dict) == {
        n for n, p in trained.named_parameters() if p.requires_grad}
    fresh = build_model(cfg)
    load_task_file(fresh, path, frozen)
    x = SWIN.inputs()
    with torch.no_grad():
        assert torch.equal(fresh(x, mode='tensor'),
                           trained(x, mode='tensor'))


def test_with_cp_gives_the_same_gradients():
    """Activation checkpointing of the (grid, prompts) state."""
    grads = []
    for with_cp in (False, True):
        model = pretrained(SWIN, 'VPT', prompt_cfg=dict(num_tokens=2),
                           with_cp=with_cp)
        model.train()
        model(SWIN.inputs())[-1].square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() == {'prompts.0.prompts',
                                                  'prompts.1.prompts'}
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name])


def test_frozen_swin_runs_in_eval_mode_and_keeps_stock_keys():
    model = VIDEO_SWIN.build('AdaptFormer', drop_rate=0.5)
    model.train()
    assert not model.pos_drop.training
    assert model.layers[0].blocks[0].adaptmlp.training
    stock_keys = set(VIDEO_SWIN.stock().state_dict())
    assert stock_keys <= set(model.state_dict())
    extra = set(model.state_dict()) - stock_keys
    assert extra and all('.adaptmlp.' in k for k in extra)
    assert isinstance(model.tunable_blocks, list)
    assert len(model.tunable_blocks) == 4 and not isinstance(
        model.tunable_blocks, nn.Module)


@pytest.mark.parametrize('family, overrides, input_shape', [
    (VIDEO_SWIN, dict(window_size=(8, 7, 7)), (1, 3, 8, 40, 40)),
    (SWIN, dict(img_size=40, window_size=7, pad_small_map=True),
     (1, 3, 40, 40)),
], ids=family_id)
def test_padded_and_shrunk_windows_match_the_stock_model(family, overrides,
                                                         input_shape):
    """Maps that are no multiple of the window (padding), video windows that
    shrink to a short clip (8x7x7 -> 4x7x7, and stage 1's whole 4x5x5 map:
    the stock bias then reads the first N x N entries of its index) and
    image maps smaller than the window (``pad_small_map``)."""
    stock = family.stock(**overrides)
    model = family.build('AdaptFormer', **overrides)
    model.init_weights()
    model.load_state_dict(stock.state_dict(), strict=False)
    model.eval()
    x = torch.randn(*input_shape)
    with torch.no_grad():
        out, ref = final_output(model(x)), final_output(stock(x))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('family', SWINS, ids=family_id)
def test_a_recognizer_checkpoint_loads_through_init_cfg(family, tmp_path):
    """``init_cfg=dict(type='Pretrained', prefix='backbone.')`` on a stock
    recognizer / classifier checkpoint: the same keys, the stock output."""
    stock = family.stock()
    path = str(tmp_path / 'stock.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in stock.state_dict().items()}}, path)
    model = family.build('AdaptFormer', init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    model.eval()
    x = family.inputs()
    with torch.no_grad():
        out, ref = final_output(model(x)), final_output(stock(x))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_old_mmpretrain_swin_keys_load_as_in_the_stock_model():
    """mmpretrain renames an old checkpoint's final ``norm.`` and drops its
    ``attn_mask`` buffers for its own class only; TunableSwin does the same.
    """
    stock = SWIN.stock()
    old = {('norm.' + k[len('norm1.'):] if k.startswith('norm1.') else k): v
           for k, v in stock.state_dict().items()}
    old['stages.0.blocks.1.attn.attn_mask'] = torch.zeros(4, 16, 16)
    model = SWIN.build('Tunable')
    missing, unexpected = model.load_state_dict(old, strict=False)
    assert missing == [] and unexpected == []
    assert torch.equal(model.norm1.weight, stock.norm1.weight)


def test_a_map_smaller_than_the_window_raises_what_the_stock_model_raises():
    """Code written for mmpretrain's ShiftWindowMSA catches AssertionError;
    ours is that and a ValueError, with the stock message."""
    small_map = dict(img_size=40, window_size=7)
    x = torch.randn(1, 3, 40, 40)
    with pytest.raises(AssertionError) as stock_error:
        SWIN.stock(**small_map)(x)
    model = SWIN.build('Tunable', **small_map)
    with pytest.raises(AssertionError) as ours:
        model(x)
    assert isinstance(ours.value, ValueError)
    assert str(ours.value) == str(stock_error.value)


@pytest.mark.parametrize('pretrained', [[0, 1, 1], None])
def test_a_bad_pretrained_argument_is_a_type_error(pretrained):
    """Not 'a truncated checkpoint': the argument is wrong, as the stock
    class says with a TypeError."""
    model = VIDEO_SWIN.build('Tunable', pretrained=pretrained,
                             pretrained2d=True)
    with pytest.raises(TypeError, match=r'a checkpoint must be a file path '
                       r'or URL \(str\), got ' + repr(pretrained).replace(
                           '[', r'\[').replace(']', r'\]')):
        model.init_weights()
