"""tools/gpu_report.sh (issue 18): syntax, plan and a CPU dry run.

The dry run runs the script's flow (wheel check, machine facts, benchmark
JSONs, the Runner on synthetic clips, summary, bundle) on a subset of the
measurements; every other measurement's tools/benchmark.py command line is
run in-process at the dry run's tiny shapes, so that a bad option is found
here and not on the GPU machine. Figures are not checked (CPU, tiny model).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import tarfile

import pytest

from ..apis.tiny_tasks import load_tool
from ..conftest import REPO

SCRIPT = osp.join(REPO, 'tools', 'gpu_report.sh')
BENCH = ['adaptformer_b32', 'adaptformer_b8_stock', 'full_b8',
         'linear_probe_b32', 'vpt_deep1_b32', 'lever_compile',
         'lever_eager_attn', 'lever_with_cp', 'lever_no_skip_frozen_grad',
         'lever_compile_lp', 'lever_adamw_b8', 'lever_adamw_fused_b8',
         'lever_sgd_fused_b8']
DRY_SUBSET = ['adaptformer_b32', 'runner']
RESULT_KEYS = ('config', 'device', 'device_name', 'torch', 'amp', 'batch',
               'steps', 'warmup', 'input_shape', 'optimizer', 'model')
MODEL_KEYS = ('train_clips_per_s', 'train_step_ms', 'train_peak_mem_mib',
              'infer_clips_per_s', 'trainable_params', 'total_params')


def run_script(tmp_path, tag, timeout=300, **env):
    full_env = dict(os.environ, PYTHON=sys.executable, GPU_REPORT_DRY_RUN='1',
                    OUT=str(tmp_path / tag / 'out'),
                    GPU_REPORT_WORK=str(tmp_path / tag / 'work'))
    full_env.update(env)
    return subprocess.run(['bash', SCRIPT], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_syntax():
    proc = subprocess.run(['bash', '-n', SCRIPT], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_plan_lists_every_measurement_and_each_runs(tmp_path, capsys):
    proc = run_script(tmp_path, 'plan', GPU_REPORT_LIST='1')
    assert proc.returncode == 0, proc.stderr
    plan = [line.split('\t') for line in proc.stdout.splitlines()
            if line.startswith(('bench\t', 'step\t'))]
    assert [p[1] for p in plan if p[0] == 'bench'] == BENCH
    assert [p[1] for p in plan if p[0] == 'step'] == ['runner_data', 'runner']
    runner = next(p for p in plan if p[1] == 'runner')
    assert 'configs/adaptformer_ssv2.py' in runner
    assert '--amp' not in runner  # AmpOptimWrapper needs a GPU
    assert not (tmp_path / 'plan' / 'out').exists()  # nothing ran
    benchmark = load_tool('benchmark')
    for kind, name, *argv in plan:
        if kind != 'bench':
            continue
        assert argv[argv.index('--device') + 1] == 'cpu'
        assert argv[argv.index('--json') + 1].endswith(f'/{name}.json')
        if '--compile' in argv:
            # tools/benchmark.py's own tests run --compile eager; here only
            # the command line is checked (dynamo costs seconds per model).
            assert argv[argv.index('--compile') + 1] == 'eager'
            benchmark.parse_args(argv)
            continue
        benchmark.main(argv)  # a bad cfg option fails here
        result = json.load(open(argv[argv.index('--json') + 1]))
        for key in RESULT_KEYS:
            assert key in result, (name, key)
        assert (result['device'], result['amp'], result['batch']) == \
            ('cpu', 'bf16', 2)
        assert result['input_shape'] == [3, 4, 32, 32]
        for key in MODEL_KEYS:
            assert key in result['model'], (name, key)
        if name == 'adaptformer_b8_stock':
            assert result['baseline']['backbone'] == \
                'mmaction.VisionTransformer'
            assert set(result['ratio']) == {
                'train_speedup', 'infer_speedup', 'train_peak_mem_fraction'}
        else:
            assert 'baseline' not in result
    capsys.readouterr()


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('gpu_report')
    only = '^(' + '|'.join(DRY_SUBSET) + ')$'
    proc = run_script(tmp_path, 'dry', GPU_REPORT_ONLY=only)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp_path / 'dry' / 'out', proc


def test_dry_run_writes_benchmark_json(dry_run):
    out, _ = dry_run
    json_dir = out / 'bundle' / 'benchmarks' / 'gpu'
    assert [p.name for p in json_dir.iterdir()] == ['adaptformer_b32.json']
    result = json.load(open(json_dir / 'adaptformer_b32.json'))
    for key in RESULT_KEYS:
        assert key in result, key
    assert result['device'] == 'cpu' and result['amp'] == 'bf16'
    assert result['input_shape'] == [3, 4, 32, 32]
    assert result['model']['backbone'] == 'AdaptFormerVideoViT'
    for key in MODEL_KEYS:
        assert key in result['model'], key


def test_dry_run_report_files_and_summary(dry_run):
    out, proc = dry_run
    # What the device tool brings back: at most 8 files within 2 folders.
    returned = [osp.relpath(osp.join(root, f), out)
                for root, _, files in os.walk(out) for f in files]
    returned = [p for p in returned if p.count(os.sep) <= 2]
    assert sorted(returned) == [
        'gpu_report.json', 'gpu_report.tar.gz', 'machine.json',
        'machine.txt', 'summary.txt']
    machine = json.load(open(out / 'machine.json'))
    for key in ('python', 'torch', 'torch_cuda', 'cudnn', 'gpu_name',
                'driver', 'mmengine', 'mmaction', 'mmpretrain'):
        assert key in machine, key
    assert 'nvidia-smi' in (out / 'machine.txt').read_text()

    report = json.load(open(out / 'gpu_report.json'))
    assert report['dry_run'] is True
    assert set(report['measurements']) == {'adaptformer_b32'}
    assert {s: report['steps'][s]['status'] for s in report['steps']} == {
        'adaptformer_b32': 'ok', 'runner_data': 'ok', 'runner': 'ok'}
    assert len(report['targets']) == 7
    for target in report['targets']:
        assert set(target) == {'target', 'op', 'need', 'value', 'met',
                               'source'}
    train = next(t for t in report['targets']
                 if t['target'] == 'AdaptFormer-64 train b32 clips/s')
    assert train['value'] == pytest.approx(
        report['measurements']['adaptformer_b32']['model']
        ['train_clips_per_s'])
    assert train['met'] == (train['value'] >= 450)
    speedup = next(t for t in report['targets']
                   if t['target'] == 'AdaptFormer-64 / stock train b8')
    assert speedup['value'] is None and speedup['met'] is None  # not run
    assert len(report['levers']) == 7
    runner = report['runner']
    assert runner['status'] == 'ok'
    assert runner['benchmark'] == 'adaptformer_b32'
    assert runner['benchmark_step_ms'] == pytest.approx(
        report['measurements']['adaptformer_b32']['model']['train_step_ms'])
    assert runner['iter_time_ms'] > 0 and runner['data_time_ms'] >= 0
    assert runner['runner_over_benchmark'] == pytest.approx(
        runner['iter_time_ms'] / runner['benchmark_step_ms'])
    assert isinstance(runner['within_15_percent'], bool)

    summary = (out / 'summary.txt').read_text()
    for text in ('DRY RUN', 'measurements (tools/benchmark.py):',
                 'adaptformer_b32', 'targets',
                 'AdaptFormer-64 train b32 clips/s', 'levers',
                 'Runner vs benchmark', 'runner logged iteration time',
                 'runner / benchmark =', 'steps not ok: none'):
        assert text in summary, text
    assert summary.strip() in proc.stdout  # the table is printed

    with tarfile.open(out / 'gpu_report.tar.gz') as tar:
        names = set(tar.getnames())
    for name in ('summary.txt', 'gpu_report.json', 'machine.json',
                 'benchmarks/gpu/adaptformer_b32.json',
                 'logs/steps/runner.log', 'logs/runner/scalars.json'):
        assert name in names, name


def test_budget_skips_steps_and_still_summarises(tmp_path):
    proc = run_script(tmp_path, 'budget', GPU_REPORT_BUDGET_S='1',
                      GPU_REPORT_ONLY='^(adaptformer_b32|runner)$')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / 'budget' / 'out'
    report = json.load(open(out / 'gpu_report.json'))
    assert {s: v['status'] for s, v in report['steps'].items()} == {
        'adaptformer_b32': 'skipped', 'runner_data': 'skipped'}
    assert report['measurements'] == {}
    assert 'adaptformer_b32 (skipped)' in proc.stdout
    assert 'runner / benchmark: n/a' in proc.stdout
