"""tools/benchmark.py and tools/benchmark_data.py on tiny models and the
synthetic demo data: what they report, never how fast (no timing bounds)."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from adaptformer_mm.apis import load_config
from adaptformer_mm.models.backbones import TunableVideoViT
from adaptformer_mm.benchmark.model import (benchmark_model_cfg,
                                            format_benchmark, run_benchmark,
                                            stock_model_cfg)
from adaptformer_mm.benchmark.input_shape import (InputShape, config_input_shape,
                                              pipeline_clip_shape)
from adaptformer_mm.benchmark.measure import count_flops
from adaptformer_mm.benchmark.data import (run_data_benchmark,
                                                 stock_pipeline)
from mmaction.models.backbones.vit_mae import VisionTransformer
from ..apis.tiny_tasks import load_tool
from ..conftest import DEMO_CONFIG, REPO

# The demo recognizer shrunk to seconds (embed 32, depth 2, 8x64x64 clips).
TINY = ['model.backbone.depth=2', 'model.backbone.embed_dims=32',
        'model.backbone.num_heads=2', 'model.cls_head.in_channels=32']
FAST = ['--batch', '2', '--steps', '2', '--warmup', '1', '--threads', '1']
# The synthetic demo data at the size the other tests share (written once).
SYNTH_SMALL = {'train_dataloader.dataset.num_train': 16,
               'train_dataloader.dataset.num_val': 8}
FIGURES = ('train_clips_per_s', 'train_step_ms', 'train_peak_mem_mib',
           'train_gflop_per_clip', 'train_tflops_per_s', 'infer_clips_per_s',
           'infer_gflop_per_clip', 'infer_tflops_per_s')


def vit_forward_flops(tokens: int, embed_dims: int, depth: int,
                      mlp_ratio: float, patch_inputs: int,
                      num_classes: int = 0) -> int:
    """Matmul FLOPs of one clip through a ViT, as ``FlopCounterMode`` counts.

    ``patch_inputs`` is ``C * t * p * p`` (the Conv3d patch embedding's
    fan-in). Per block: qkv ``2Nd*3d``, ``QK^T`` and ``AV`` ``2 * 2N^2 d``,
    projection ``2Nd^2``, MLP ``2 * 2Nd*rd``; plus the patch embedding
    ``2Nd * patch_inputs`` and the linear head ``2d * classes``.
    """
    n, d = tokens, embed_dims
    hidden = int(d * mlp_ratio)
    block = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + \
        2 * 2 * n * d * hidden
    return 2 * n * d * patch_inputs + depth * block + 2 * d * num_classes


def _check_figures(entry):
    assert entry['trainable_params'] > 0
    assert entry['total_params'] >= entry['trainable_params']
    for key in FIGURES:
        # RSS growth is an OS reading: it can be 0 when nothing new was
        # paged in, never negative in a sane run.
        if key == 'train_peak_mem_mib':
            assert entry[key] is None or entry[key] >= 0, key
        else:
            assert entry[key] > 0, key


def test_demo_config_writes_json_with_positive_figures(tmp_path, capsys):
    out = tmp_path / 'bench' / 'demo.json'
    load_tool('benchmark').main(
        [DEMO_CONFIG, *FAST, '--json', str(out), '--cfg-options', *TINY])
    result = json.loads(out.read_text())
    for key in ('config', 'device', 'device_name', 'torch', 'amp', 'batch',
                'steps', 'warmup', 'input_shape', 'optimizer', 'model'):
        assert key in result, key
    assert result['device'] == 'cpu'  # no CUDA in the test environment
    assert (result['batch'], result['steps'], result['warmup']) == (2, 2, 1)
    # Shape from the demo's training pipeline: clip_len 8, Resize to 64x64.
    assert result['input_shape'] == [3, 8, 64, 64]
    assert result['optimizer'] == 'AdamW'
    assert 'baseline' not in result and 'ratio' not in result
    _check_figures(result['model'])
    # The demo trains the stock backbone: every parameter trains.
    model = result['model']
    assert model['trainable_params'] == model['total_params']
    table = capsys.readouterr().out
    assert 'train clips/s' in table and 'infer clips/s' in table
    assert 'input clip (C x T x H x W): 3x8x64x64' in table


def test_baseline_gives_ratios_against_stock_vit(capsys):
    cfg = load_config(DEMO_CONFIG)
    cfg.merge_from_dict(dict(
        model=dict(backbone=dict(type='AdaptFormerVideoViT', depth=2,
                                 embed_dims=32, num_heads=2,
                                 adapter_cfg=dict(bottleneck=4)),
                   cls_head=dict(in_channels=32))))
    result = run_benchmark(cfg, batch=2, steps=1, warmup=0, baseline=True,
                           threads=1)
    ours, stock = result['model'], result['baseline']
    _check_figures(ours)
    _check_figures(stock)
    assert ours['backbone'] == 'AdaptFormerVideoViT'
    assert stock['backbone'] == 'mmaction.VisionTransformer'
    # Stock mmaction2 trains everything; ours trains adapters + fc_norm +
    # head, on top of the same stock parameters.
    assert stock['trainable_params'] == stock['total_params']
    assert ours['trainable_params'] < stock['trainable_params']
    assert ours['total_params'] > stock['total_params']
    ratio = result['ratio']
    assert ratio['train_speedup'] == pytest.approx(
        ours['train_clips_per_s'] / stock['train_clips_per_s'])
    assert ratio['infer_speedup'] > 0
    assert 'ours/stock' in format_benchmark(result)
    # Same forward work: adapters add a few matmuls to the same ViT.
    assert ours['infer_gflop_per_clip'] >= stock['infer_gflop_per_clip']


@pytest.mark.parametrize('attn_impl', ['sdpa', 'eager'])
def test_forward_flops_equal_the_analytic_count(attn_impl):
    vit = dict(img_size=64, patch_size=16, embed_dims=64, depth=2,
               num_heads=4, num_frames=8, tubelet_size=2)
    tokens = (8 // 2) * (64 // 16)**2
    expected = 2 * vit_forward_flops(tokens, 64, 2, 4, 3 * 2 * 16 * 16)
    x = torch.randn(2, 3, 8, 64, 64)
    ours = TunableVideoViT(attn_impl=attn_impl, **vit).eval()
    stock = VisionTransformer(**vit).eval()
    with torch.no_grad():
        # The CPU flash-attention kernel of SDPA is counted too (torch's
        # counter alone gives it 0 FLOPs).
        assert count_flops(lambda: ours(x)) == expected
        assert count_flops(lambda: stock(x)) == expected


def test_input_shape_comes_from_the_pipeline_then_the_backbone():
    ssv2 = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'ssv2_video.py'))
    assert pipeline_clip_shape(ssv2.train_pipeline) == (8, (224, 224))
    assert pipeline_clip_shape(ssv2.test_pipeline) == (8, (224, 224))
    cfg = load_config(DEMO_CONFIG)
    assert tuple(config_input_shape(cfg)) == (3, 8, 64, 64)
    assert tuple(config_input_shape(cfg, frames=16, size=32)) == \
        (3, 16, 32, 32)
    cfg.train_dataloader.dataset.pipeline = []
    cfg.model.backbone.num_frames = 4
    assert tuple(config_input_shape(cfg)) == (3, 4, 64, 64)
    # The backbone is built for the measured shape, with no weights to load.
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
    with pytest.raises(KeyError, match='nope_dataloader'):
        run_data_benchmark(load_config(DEMO_CONFIG), split='nope')


def test_data_benchmark_reads_the_synthetic_demo(tmp_path, synthetic_root):
    out = tmp_path / 'data.json'
    # The same dataset size as the other tests that use synthetic_root, so
    # the clips are generated once per session.
    load_tool('benchmark_data').main([
        DEMO_CONFIG, '--samples', '4', '--data-root', synthetic_root,
        '--target-rate', '100', '--json', str(out), '--cfg-options',
        *(f'{k}={v}' for k, v in SYNTH_SMALL.items())])
    result = json.loads(out.read_text())
    assert result['dataset'] == 'SyntheticVideoDataset'
    assert (result['samples'], result['num_workers']) == (4, 0)
    assert result['clips_per_s'] > 0
    assert result['clips_per_s_per_worker'] == result['clips_per_s']
    assert result['workers_needed'] >= 1
    assert result['decoder_threads'] == 1
    assert result['clips'] == 4


def test_repeated_aug_items_count_as_k_clips_and_baseline_is_stock(
        synthetic_root, capsys):
    cfg = load_config(DEMO_CONFIG)
    cfg.merge_from_dict(SYNTH_SMALL)
    cfg.train_dataloader.dataset = dict(
        type='RepeatedAugDataset', num_repeats=3,
        dataset=cfg.train_dataloader.dataset)
    result = run_data_benchmark(cfg, samples=2, data_root=synthetic_root,
                                baseline=True)
    assert result['dataset'] == 'RepeatedAugDataset'
    assert result['clips'] == 6  # 2 items x K=3
    stock = result['baseline']
    assert stock['dataset'] == 'SyntheticVideoDataset'
    assert stock['clips'] == 2
    assert stock['data_root'] == result['data_root'] == synthetic_root
    assert result['speedup_per_worker'] == pytest.approx(
        result['clips_per_s_per_worker'] / stock['clips_per_s_per_worker'])
    text = load_tool('benchmark_data').format_data_benchmark(result)
    assert 'stock mmaction2: 2 clips' in text
    assert 'this pipeline: 6 clips' in text
    assert 'per-worker speedup over stock' in text


def test_stock_pipeline_replaces_only_our_loading_steps():
    ours = [dict(type='ScaledDecordInit', short_side=240, num_threads=2),
            dict(type='SampleFrames', clip_len=8),
            dict(type='ScaledDecordDecode'),
            dict(type='CenterCrop', crop_size=224)]
    assert stock_pipeline(ours) == [
        dict(type='DecordInit', num_threads=2),
        dict(type='SampleFrames', clip_len=8),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 240)),
        dict(type='CenterCrop', crop_size=224)]
    gpu = [dict(type='GPUDecodeInit'), dict(type='GPUDecode')]
    assert stock_pipeline(gpu) == [dict(type='DecordInit', num_threads=1),
                                   dict(type='DecordDecode')]
    stock = [dict(type='DecordInit'), dict(type='DecordDecode')]
    assert stock_pipeline(stock) == stock


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
    _check_figures(result['model'])


def test_compile_option_compiles_our_model_only(capsys):
    # The eager backend goes through dynamo's tracing (where mmengine's
    # ConfigDict param groups failed, stack fix 9) without a C++ toolchain.
    # One block and one timed step: tracing costs per layer and per call.
    out = load_tool('benchmark').main(
        [DEMO_CONFIG, '--batch', '2', '--steps', '1', '--warmup', '1',
         '--threads', '1', '--compile', 'eager', '--baseline',
         '--cfg-options', 'model.backbone.depth=1', *TINY[1:]])
    assert out['model']['compile'] == 'eager'
    assert out['baseline']['compile'] is None
    _check_figures(out['model'])
    assert 'compile eager' in capsys.readouterr().out


def test_compile_needs_warmup():
    with pytest.raises(ValueError, match='--compile needs --warmup >= 1'):
        run_benchmark(load_config(DEMO_CONFIG), warmup=0,
                      compile_backend='eager')


def test_step_name_is_one_helper_under_both_import_paths():
    from adaptformer_mm.datasets import repeated_aug
    from adaptformer_mm.datasets.pipeline import step_name
    assert repeated_aug.step_name is step_name
    assert step_name(dict(type='mmaction.Resize')) == 'Resize'
    assert step_name(torch.nn.Identity()) == 'Identity'


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
def test_new_backbones_run_against_their_stock_class(case):
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
    _check_figures(ours)
    _check_figures(stock)
    assert ours['backbone'] == backbone['type']
    assert stock['backbone'] == stock_type
    assert stock['trainable_params'] == stock['total_params']
    assert ours['trainable_params'] < stock['trainable_params']
    assert result['ratio']['train_speedup'] > 0
    label = 'input image (C x H x W)' if base else 'input clip'
    assert label in format_benchmark(result)
    built = benchmark_model_cfg(cfg, InputShape(3, frames, 32, 32))
    assert {k: built['backbone'][k] for k in (
        'num_frames', 'img_size', 't_size', 'input_resolution')
        if k in built['backbone']} == sized
    stock_cfg = stock_model_cfg(built)['backbone']
    assert not {'tuning', 'with_cp', 'lora_cfg', 'prompt_cfg',
                'adapter_cfg'} & set(stock_cfg)
