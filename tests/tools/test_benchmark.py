"""tools/benchmark.py and tools/benchmark_data.py in process: their
options reach the benchmark, the table they print and the JSON they write
hold the same figures (the benchmarks themselves: tests/benchmark/)."""
import json

import torch

from ..conftest import load_tool
from ..conftest import DEMO_CONFIG

# The demo recognizer shrunk to seconds (embed 32, depth 2, 8x64x64 clips).
TINY = ['model.backbone.depth=2', 'model.backbone.embed_dims=32',
        'model.backbone.num_heads=2', 'model.cls_head.in_channels=32']
FAST = ['--batch', '2', '--steps', '2', '--warmup', '1', '--threads', '1']
# The synthetic demo data at the size the other tests share (written once).
SYNTH_SMALL = {'train_dataloader.dataset.num_train': 16,
               'train_dataloader.dataset.num_val': 8}


def test_demo_config_prints_and_writes_the_same_figures(tmp_path, capsys):
    out = tmp_path / 'bench' / 'demo.json'
    returned = load_tool('benchmark').main(
        [DEMO_CONFIG, *FAST, '--json', str(out), '--cfg-options', *TINY])
    result = json.loads(out.read_text())
    assert result == json.loads(json.dumps(returned))
    assert result['device'] == ('cuda' if torch.cuda.is_available()
                                else 'cpu')
    assert (result['batch'], result['steps'], result['warmup']) == (2, 2, 1)
    # Shape from the demo's training pipeline: clip_len 8, Resize to 64x64.
    assert result['input_shape'] == [3, 8, 64, 64]
    assert result['optimizer'] == 'AdamW'
    assert 'baseline' not in result and 'ratio' not in result
    # The demo trains the stock backbone: every parameter trains.
    model = result['model']
    assert model['trainable_params'] == model['total_params']
    table = capsys.readouterr().out
    assert 'input clip (C x T x H x W): 3x8x64x64' in table
    for row, key, fmt in (('train clips/s', 'train_clips_per_s', '.2f'),
                          ('infer clips/s', 'infer_clips_per_s', '.2f'),
                          ('train GFLOP/clip', 'train_gflop_per_clip',
                           '.3f')):
        line = next(line for line in table.splitlines()
                    if line.startswith(row))
        assert line.split()[-1] == format(model[key], fmt), line


def test_data_benchmark_reads_the_synthetic_demo(tmp_path, synthetic_root,
                                                 capsys):
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
    assert (result['target_rate'], result['data_root']) == (100,
                                                            synthetic_root)
    # In this process: one "worker" reads them all.
    assert result['clips_per_s_per_worker'] == result['clips_per_s']
    assert result['decoder_threads'] == 1
    assert result['clips'] == 4
    printed = capsys.readouterr().out
    assert (f'{result["clips_per_s"]:.2f} clips/s' in printed and
            f'{result["workers_needed"]} workers for 100 clips/s' in printed)


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
    # The demo's backbone is the stock one: the same FLOPs as the baseline
    # (counted on the uncompiled step).
    for key in ('train_gflop_per_clip', 'infer_gflop_per_clip'):
        assert out['model'][key] == out['baseline'][key], key
    assert 'compile eager' in capsys.readouterr().out
