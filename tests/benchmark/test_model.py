"""The model benchmark on tiny models: the model built for the measured
shape, the stock baseline it is compared with, FLOPs equal to hand counts,
and ratios that follow the measured seconds (known ones here: the timer is
replaced, so nothing here depends on how fast the machine is)."""
import pytest
from mmengine.config import Config

from adaptformer_mm.apis import load_config
from adaptformer_mm.benchmark import model as benchmark_model
from adaptformer_mm.benchmark.input_shape import (InputShape,
                                                  config_input_shape)
from adaptformer_mm.benchmark.model import (benchmark_model_cfg,
                                            format_benchmark, run_benchmark,
                                            stock_model_cfg)

from ..conftest import DEMO_CONFIG
from .test_measure import vit_forward_flops

# Seconds the replaced timer reports, in the order run_benchmark measures:
# the untimed process warmup's training step and inference, then ours, then
# the stock baseline's. Ours trains 4x as fast and infers half as fast.
SECONDS = dict(warmup=(1.0, 1.0), ours=(0.5, 0.2), stock=(2.0, 0.1))


@pytest.fixture
def known_seconds(monkeypatch):
    """``timed`` replaced by :data:`SECONDS` (the steps it would time are
    not run; the FLOP count still runs each once). Returns the ``(steps,
    warmup)`` of each call."""
    seconds = iter([s for pair in SECONDS.values() for s in pair])
    asked = []

    def timed(fn, steps, warmup, device):
        asked.append((steps, warmup))
        return next(seconds)

    monkeypatch.setattr(benchmark_model, 'timed', timed)
    return asked


def assert_known_ratios(result, batch, steps):
    """The figures and ratios :data:`SECONDS` give ``batch * steps`` clips."""
    ours, stock = result['model'], result['baseline']
    for entry, (train_s, infer_s) in ((ours, SECONDS['ours']),
                                      (stock, SECONDS['stock'])):
        assert entry['train_clips_per_s'] == batch * steps / train_s
        assert entry['train_step_ms'] == pytest.approx(1e3 * train_s / steps)
        assert entry['infer_clips_per_s'] == batch * steps / infer_s
    assert result['ratio']['train_speedup'] == 4.0
    assert result['ratio']['infer_speedup'] == pytest.approx(0.5)
    table = format_benchmark(result)
    assert '4.00x' in table and '0.50x' in table


def test_baseline_gives_ratios_against_stock_vit(known_seconds):
    cfg = load_config(DEMO_CONFIG)
    cfg.merge_from_dict(dict(
        model=dict(backbone=dict(type='AdaptFormerVideoViT', depth=2,
                                 embed_dims=32, num_heads=2,
                                 adapter_cfg=dict(bottleneck=4)),
                   cls_head=dict(in_channels=32))))
    result = run_benchmark(cfg, batch=2, steps=1, warmup=0, baseline=True,
                           threads=1)
    # The process warmup: 1 step after 1; then the asked 1 after 0.
    assert known_seconds == [(1, 1)] * 2 + [(1, 0)] * 4
    ours, stock = result['model'], result['baseline']
    assert ours['backbone'] == 'AdaptFormerVideoViT'
    assert stock['backbone'] == 'mmaction.VisionTransformer'
    # Stock mmaction2 trains everything; ours trains adapters + fc_norm +
    # head, on top of the same stock parameters.
    assert stock['trainable_params'] == stock['total_params']
    assert ours['trainable_params'] < stock['trainable_params']
    assert ours['total_params'] > stock['total_params']
    assert_known_ratios(result, batch=2, steps=1)
    assert 'ours/stock' in format_benchmark(result)

    # FLOPs per clip (8x64x64, tubelet 2, patch 16: 64 tokens of width 32).
    tokens, width, depth, bottleneck = 64, 32, 2, 4
    patch = 2 * tokens * width * (3 * 2 * 16 * 16)
    forward = vit_forward_flops(tokens, width, depth, 4, 3 * 2 * 16 * 16,
                                num_classes=4)
    assert stock['infer_gflop_per_clip'] * 1e9 == pytest.approx(forward)
    # Ours: the same ViT plus each block's adapter, down and up projections.
    adapters = depth * 2 * (2 * tokens * width * bottleneck)
    assert ours['infer_gflop_per_clip'] * 1e9 == pytest.approx(
        forward + adapters)
    # Training stock: every matmul's forward, input gradient and weight
    # gradient, less the clip's gradient at the patch embedding.
    assert stock['train_gflop_per_clip'] * 1e9 == pytest.approx(
        3 * forward - patch)
    # Frozen weights get no weight gradient, nor the blocks before the
    # first adapter an input gradient.
    assert ours['train_gflop_per_clip'] < stock['train_gflop_per_clip']


def test_the_model_is_built_for_the_measured_shape_without_weights():
    cfg = load_config(DEMO_CONFIG)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint='x.pth')
    model = benchmark_model_cfg(cfg, config_input_shape(cfg, frames=16))
    assert model['backbone']['num_frames'] == 16
    assert 'init_cfg' not in model['backbone']


def test_bad_settings_name_the_key():
    cfg = load_config(DEMO_CONFIG)
    with pytest.raises(ValueError, match='--amp'):
        run_benchmark(cfg, amp='int8')
    with pytest.raises(ValueError, match='--batch'):
        run_benchmark(cfg, batch=0)
    cfg.model.type = 'Recognizer2D'
    with pytest.raises(ValueError, match="model.type='Recognizer2D'"):
        run_benchmark(cfg, batch=1)


def test_compile_needs_warmup():
    with pytest.raises(ValueError, match='--compile needs --warmup >= 1'):
        run_benchmark(load_config(DEMO_CONFIG), warmup=0,
                      compile_backend='eager')


def test_bf16_autocast_runs_through_mmaction2_head_loss():
    # mmaction2's head loss turns bf16 scores into numpy (no bfloat16
    # there); the compat fix makes a bf16 step run.
    cfg = load_config(DEMO_CONFIG)
    cfg.merge_from_dict(dict(
        model=dict(backbone=dict(type='AdaptFormerVideoViT', depth=1,
                                 embed_dims=32, num_heads=2),
                   cls_head=dict(in_channels=32))))
    result = run_benchmark(cfg, batch=2, steps=1, warmup=0, amp='bf16',
                           threads=1)
    assert result['amp'] == 'bf16'
    model = result['model']
    assert 'error' not in model
    # The step ran its backward: counted on top of the forward.
    assert model['train_gflop_per_clip'] > model['infer_gflop_per_clip']


# Tiny hierarchical Swins (2 stages of 2 blocks, widths 16 and 32) and the
# stock class each new backbone is measured against with --baseline.
SWIN_ARCH = dict(embed_dims=16, depths=[2, 2], num_heads=[2, 4])
TINY_IMAGE = dict(
    model=dict(type='ImageClassifier',
               head=dict(type='LinearClsHead', num_classes=3,
                         in_channels=32)),
    default_scope='mmpretrain',
    train_dataloader=dict(dataset=dict(pipeline=[
        dict(type='RandomResizedCrop', scale=32), dict(type='PackInputs')
    ])))
BASELINE_CASES = {
    'image-swin': (TINY_IMAGE, dict(
        type='AdaptFormerSwin', arch=SWIN_ARCH, img_size=64, patch_size=4,
        window_size=4, out_indices=(1, ), adapter_cfg=dict(bottleneck=4)),
        'mmpretrain.SwinTransformer', [3, 32, 32], dict(img_size=32)),
    'video-swin': (None, dict(
        type='VPTVideoSwin', arch=SWIN_ARCH, patch_size=(2, 4, 4),
        window_size=(2, 4, 4), pretrained2d=False, out_indices=(1, ),
        prompt_cfg=dict(num_tokens=2)),
        'mmaction.SwinTransformer3D', [3, 4, 32, 32], {}),
    'image-bitfit': (TINY_IMAGE, dict(
        type='BitFitViT', arch=dict(embed_dims=32, num_layers=2,
                                    num_heads=2, feedforward_channels=64),
        img_size=64, patch_size=16),
        'mmpretrain.VisionTransformer', [3, 32, 32], dict(img_size=32)),
    'video-lora': (None, dict(
        type='LoRAVideoViT', depth=2, embed_dims=32, num_heads=2,
        lora_cfg=dict(rank=2)),
        'mmaction.VisionTransformer', [3, 4, 32, 32],
        dict(img_size=32, num_frames=4)),
    'video-uniformerv2': (None, dict(
        type='AdaptFormerUniFormerV2', input_resolution=224, patch_size=16,
        width=32, layers=2, heads=2, t_size=8, no_lmhra=True,
        return_list=[0, 1], n_layers=2, n_dim=32, n_head=2,
        mlp_dropout=[0.5, 0.5], clip_pretrained=False,
        adapter_cfg=dict(bottleneck=4)),
        'mmaction.UniFormerV2', [3, 4, 32, 32],
        dict(input_resolution=32, t_size=4)),
}


@pytest.mark.parametrize('case', list(BASELINE_CASES))
def test_new_backbones_run_against_their_stock_class(case, known_seconds):
    """Swin (video, image) and the baselines: built for the measured shape
    only where the stock class takes it, measured against the stock
    mmaction2 / mmpretrain class they extend, with only its arguments."""
    base, backbone, stock_type, shape, sized = BASELINE_CASES[case]
    if base is None:  # video: the demo recognizer, its head resized
        cfg = load_config(DEMO_CONFIG)
        cfg.model.backbone = backbone
        cfg.model.cls_head.in_channels = 32
        if 'Swin' in backbone['type']:  # a feature map: pooled by I3DHead
            cfg.model.cls_head = dict(type='I3DHead', num_classes=3,
                                      in_channels=32)
        if 'UniFormerV2' in backbone['type']:
            cfg.model.cls_head = dict(type='UniFormerHead', num_classes=3,
                                      in_channels=32)
        frames = 4
    else:
        cfg = Config(base)
        cfg.model.backbone = backbone
        if 'Swin' in backbone['type']:  # a feature map
            cfg.model.neck = dict(type='GlobalAveragePooling')
        frames = None
    result = run_benchmark(cfg, batch=2, steps=1, warmup=0, baseline=True,
                           threads=1, frames=frames, size=32)
    assert result['input_shape'] == shape
    ours, stock = result['model'], result['baseline']
    assert ours['backbone'] == backbone['type']
    assert stock['backbone'] == stock_type
    assert stock['trainable_params'] == stock['total_params']
    assert ours['trainable_params'] < stock['trainable_params']
    assert_known_ratios(result, batch=2, steps=1)
    # Frozen weights get no weight gradient: a training step of ours
    # costs less than the stock one that trains every weight.
    assert ours['train_gflop_per_clip'] < stock['train_gflop_per_clip']
    label = 'input image (C x H x W)' if base else 'input clip'
    assert label in format_benchmark(result)
    built = benchmark_model_cfg(cfg, InputShape(3, frames, 32, 32))
    assert {k: built['backbone'][k] for k in (
        'num_frames', 'img_size', 't_size', 'input_resolution')
        if k in built['backbone']} == sized
    stock_cfg = stock_model_cfg(built)['backbone']
    assert not {'tuning', 'with_cp', 'lora_cfg', 'prompt_cfg',
                'adapter_cfg'} & set(stock_cfg)
