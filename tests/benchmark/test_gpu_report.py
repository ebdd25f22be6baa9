"""adaptformer_mm.benchmark.gpu.model_report and .steps, in process: the
plan and its command lines, ``--only`` and ``--list``, the options from the
environment, the time budget, the targets and levers, the Runner comparison
and the summary of fake measurements; the launchers; one dry run end to
end (slow)."""
import json
import os
import os.path as osp
import subprocess
import sys
import tarfile
import time

import pytest

from adaptformer_mm.apis import load_config
from adaptformer_mm.benchmark.gpu import model_report as mr
from adaptformer_mm.benchmark.gpu.steps import (Budget, Outcome, Step,
                                                StepRunner, format_table,
                                                python_step, select)

from ..conftest import REPO, load_tool

DRY = mr.Settings(dry_run=True, **mr.DRY_RUN)
PLAN = ['adaptformer_b32', 'adaptformer_b8_stock', 'full_b8',
        'linear_probe_b32', 'vpt_deep1_b32', 'runner_data', 'runner',
        'lever_compile', 'lever_eager_attn', 'lever_with_cp',
        'lever_no_skip_frozen_grad', 'lever_compile_lp', 'lever_adamw_b8',
        'lever_adamw_fused_b8', 'lever_sgd_fused_b8']


def steps_by_name(settings, json_dir='/j', work='/w'):
    return {s.name: s for s in mr.plan(settings, json_dir, work)}


def option(argv, name):
    return argv[argv.index(name) + 1]


def cfg_options(argv):
    return list(argv[argv.index('--cfg-options') + 1:]) \
        if '--cfg-options' in argv else []


# ---------------------------------------------------------------- plan
def test_plan_orders_targets_runner_levers():
    plan = mr.plan(DRY, '/j', '/w')
    assert [s.name for s in plan] == PLAN
    kinds = {s.name: s.kind for s in plan}
    assert [n for n in PLAN if kinds[n] == 'step'] == ['runner_data',
                                                       'runner']
    weights = {s.name: s.weight for s in plan}
    assert (weights['lever_compile'], weights['lever_compile_lp'],
            weights['runner'], weights['adaptformer_b8_stock']) == (4, 3, 3,
                                                                    2)


def test_dry_run_bench_command_lines_parse_at_tiny_shapes():
    benchmark = load_tool('benchmark')
    for name, step in steps_by_name(DRY).items():
        if step.kind != 'bench':
            continue
        assert step.argv[:2] == (sys.executable, 'tools/benchmark.py')
        args = benchmark.parse_args(list(step.argv[2:]))
        assert (args.device, args.batch, args.amp, args.steps, args.frames,
                args.size, args.threads) == ('cpu', 2, 'bf16', 1, 4, 32, 1)
        assert args.json == f'/j/{name}.json'
        assert args.compile == ('eager' if 'compile' in name else None)
        assert args.baseline == (name == 'adaptformer_b8_stock')
        options = cfg_options(step.argv)
        assert options[-len(mr.TINY):] == list(mr.TINY)
        assert options.count('model.backbone.depth=2') == 1


def test_gpu_run_command_lines():
    steps = steps_by_name(mr.Settings())
    b32 = steps['adaptformer_b32'].argv
    assert (option(b32, '--device'), option(b32, '--batch'),
            option(b32, '--frames'), option(b32, '--size')) == \
        ('cuda', '32', '16', '224')
    assert '--threads' not in b32 and '--cfg-options' not in b32
    assert option(steps['full_b8'].argv, '--batch') == '8'
    assert option(steps['lever_compile'].argv, '--compile') == 'inductor'
    assert cfg_options(steps['lever_adamw_fused_b8'].argv) == [
        *mr.ADAMW, 'optim_wrapper.optimizer.fused=True']
    runner = steps['runner'].argv
    assert '--amp' in runner
    options = cfg_options(runner)
    assert 'train_dataloader.num_workers=12' in options
    assert 'train_dataloader.persistent_workers=True' in options
    assert 'default_hooks.logger.interval=10' in options
    assert not any(o.startswith(('optim_wrapper', 'compile.'))
                   for o in options)
    compiled = steps_by_name(mr.Settings(runner_compile=True))['runner']
    assert cfg_options(compiled.argv)[-1] == 'compile.backend=inductor'


def test_dry_run_runner_trains_fp32_sgd_on_its_clips():
    steps = steps_by_name(DRY, work='/w')
    data = steps['runner_data']
    assert data.call.func.__name__ == 'generate_synthetic_dataset'
    assert data.call.args == ('/w/runner_data', )
    assert (data.call.keywords['num_train'],
            data.call.keywords['num_frames']) == (4, 4)  # batch 2 x 2 iters
    runner = steps['runner']
    assert runner.needs == 'runner_data'
    assert '--amp' not in runner.argv  # AmpOptimWrapper needs a GPU
    options = cfg_options(runner.argv)
    assert 'optim_wrapper.optimizer.type=SGD' in options
    assert 'train_dataloader.dataset.ann_file=/w/runner_data/train_list.txt' \
        in options
    assert 'default_hooks.logger.interval=1' in options
    assert options[-len(mr.TINY):] == list(mr.TINY)


def _parent(cfg, key):
    """The dict or list that ``key`` (dotted, list indices as numbers)
    sets a value in; KeyError naming the first missing part."""
    node = cfg
    for part in key.split('.')[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_every_override_names_a_place_in_its_config():
    configs = {}
    for step in mr.plan(mr.Settings(runner_compile=True), '/j', '/w'):
        if step.call:
            continue
        config = step.argv[2]
        cfg = configs.setdefault(config, load_config(osp.join(REPO, config)))
        for opt in cfg_options(step.argv):
            key = opt.split('=', 1)[0]
            if key.startswith('compile.'):
                continue  # compile is a Runner option, absent by default
            assert isinstance(_parent(cfg, key), dict), (step.name, key)
    pipeline = configs[mr.ADAPT].train_dataloader.dataset.pipeline
    assert pipeline[1]['type'] == 'SampleFrames'  # runner's pipeline.1


def test_only_selects_steps_and_runner_brings_its_data():
    plan = mr.plan(DRY, '/j', '/w')
    chosen = select(plan, '^(adaptformer_b32|runner)$')
    assert [s.name for s in chosen] == ['adaptformer_b32', 'runner_data',
                                        'runner']
    assert [s.name for s in select(plan, 'compile')] == [
        'lever_compile', 'lever_compile_lp']
    assert select(plan, None) == plan


def test_list_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / 'out'
    assert mr.main(['--list', '--dry-run', '--only', 'runner|vpt', '--out',
                    str(out), '--work', str(tmp_path / 'work')]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split('\t')[:2] for line in lines] == [
        ['bench', 'vpt_deep1_b32'], ['step', 'runner_data'],
        ['step', 'runner']]
    vpt = lines[0].split('\t')
    assert vpt[2:4] == ['tools/benchmark.py', mr.VPT]
    assert option(vpt, '--json') == str(
        out / 'bundle' / 'benchmarks' / 'gpu' / 'vpt_deep1_b32.json')
    assert 'generate_synthetic_dataset(' in lines[1]
    assert lines[2].split('\t')[2] == 'tools/train.py'
    assert not out.exists() and not (tmp_path / 'work').exists()


def test_options_from_the_environment(monkeypatch):
    monkeypatch.setenv('GPU_REPORT_DRY_RUN', '1')
    monkeypatch.setenv('GPU_REPORT_FRAMES', '8')
    monkeypatch.setenv('GPU_REPORT_RUNNER_COMPILE', '1')
    monkeypatch.setenv('GPU_REPORT_ONLY', 'full')
    monkeypatch.setenv('OUT', '/results')
    s, args = mr.parse_args([])
    assert (s.dry_run, s.frames, s.size, s.device, s.runner_compile) == \
        (True, 8, 32, 'cpu', True)  # size and device: the dry run's
    assert (args.only, args.out, args.list) == ('full', '/results', False)
    s, _ = mr.parse_args(['--frames', '6', '--device', 'cuda'])
    assert (s.frames, s.device) == (6, 'cuda')  # the command line wins
    monkeypatch.setenv('GPU_REPORT_DRY_RUN', '0')
    s, _ = mr.parse_args([])
    assert (s.dry_run, s.device, s.size, s.budget_s, s.min_step_s) == \
        (False, 'cuda', 224, 450, 25)


# -------------------------------------------------------------- budget
class Clock:
    def __init__(self):
        self.now = 1000.

    def __call__(self):
        return self.now


def test_budget_admits_a_step_by_its_weight():
    clock = Clock()
    budget = Budget(100, reserve_s=15, min_s=25, clock=clock)
    assert budget.left() == 85
    assert budget.admits(3) and not budget.admits(4)
    assert budget.limit(120) == 85 and budget.limit(30) == 30
    clock.now += 40
    assert (budget.elapsed(), budget.left()) == (40, 45)
    assert budget.admits(1) and not budget.admits(2)
    assert budget.limit(120) == 45


def test_runner_skips_what_the_budget_cannot_take(tmp_path, capsys):
    runner = StepRunner(str(tmp_path), Budget(10, min_s=25), 'test')
    step = python_step('first', 'bench', 60, ['-c', 'pass'])
    outcome = runner.run(step)
    assert outcome == Outcome('skipped', -1, 0,
                              '10s of the 10s budget left')
    assert not (tmp_path / 'first.log').exists()
    after = runner.run(python_step('second', 'step', 60, ['-c', 'pass'],
                                   needs='first'))
    assert after.reason == 'needs first, which is skipped'
    assert list(runner.outcomes) == ['first', 'second']
    assert runner.run(step, budgeted=False).ok  # the facts: never skipped
    assert 'skip first: 10s of the 10s budget left' in capsys.readouterr().out


def _state(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return 'gone'


def test_time_limit_stops_the_step_and_what_it_started(tmp_path):
    child = ('import subprocess, sys, time; p = subprocess.Popen([sys.'
             'executable, "-c", "import time; time.sleep(60)"]); '
             'print(p.pid, flush=True); time.sleep(60)')
    runner = StepRunner(str(tmp_path), Budget(2, min_s=1), 'test')
    start = time.monotonic()
    outcome = runner.run(python_step('sleeper', 'bench', 60, ['-c', child]))
    assert time.monotonic() - start < 20
    assert (outcome.status, outcome.rc) == ('timeout', 124)
    assert outcome.reason == 'stopped by timeout after 2s'
    grandchild = int((tmp_path / 'sleeper.log').read_text().split()[0])
    for _ in range(50):
        if _state(grandchild) in ('gone', 'Z'):
            break
        time.sleep(0.1)
    assert _state(grandchild) in ('gone', 'Z')


def test_failed_steps_are_recorded_with_their_log(tmp_path, capsys):
    runner = StepRunner(str(tmp_path), Budget(60), 'test')
    failed = runner.run(python_step('exits', 'bench', 60, [
        '-c', 'import sys; print("the reason"); sys.exit(3)']))
    assert (failed.status, failed.rc, failed.reason) == \
        ('failed', 3, 'exit status 3')
    assert '        the reason' in capsys.readouterr().out  # the log tail

    def broken():
        print('about to fail')
        raise ValueError('bad clips')

    raised = runner.run(Step('call', 'step', 60, call=broken))
    assert (raised.status, raised.rc) == ('failed', 1)
    log = (tmp_path / 'call.log').read_text()
    assert 'about to fail' in log and 'ValueError: bad clips' in log
    ok = runner.run(Step('prints', 'step', 60, call=lambda: print('done')))
    assert ok.ok and (tmp_path / 'prints.log').read_text() == 'done\n'


# ------------------------------------------------------------- targets
def figures(train=None, infer=None, step_ms=None, mem=None):
    return dict(batch=32, model=dict(train_clips_per_s=train,
                                     infer_clips_per_s=infer,
                                     train_step_ms=step_ms,
                                     train_peak_mem_mib=mem))


FAKE = {
    'adaptformer_b32': figures(400, 950, 80., 9000),
    'lever_compile': figures(500, 850, 64., 8000),
    'adaptformer_b8_stock': dict(
        figures(120, 300), baseline=dict(train_clips_per_s=100.),
        ratio=dict(train_speedup=1.2, train_peak_mem_fraction=0.25)),
    'full_b8': figures(300),
    'lever_sgd_fused_b8': figures(330),
    'lever_eager_attn': figures(320),
}


def test_targets_take_the_best_variant():
    targets = {t['target']: t for t in mr.check_targets(FAKE)}
    assert len(targets) == 7
    train = targets['AdaptFormer-64 train b32 clips/s']
    assert (train['value'], train['met']) == (500, True)  # compiled
    infer = targets['inference b32 clips/s']
    assert (infer['value'], infer['met']) == (950, True)  # eager
    full = targets['full fine-tune / stock train b8']
    assert full['value'] == pytest.approx(3.3) and full['met'] is True
    memory = targets['AdaptFormer-64 / stock peak mem b8']
    assert (memory['op'], memory['value'], memory['met']) == \
        ('<=', 0.25, False)
    vpt = targets['VPT-deep-1 train b32 clips/s']
    assert (vpt['value'], vpt['met']) == (None, None)  # not measured


def test_levers_compare_on_with_off():
    levers = {lv['lever']: lv for lv in mr.compare_levers(FAKE)}
    assert levers['torch.compile AdaptFormer b32']['speedup'] == 1.25
    attention = levers['fused attention (sdpa vs eager)']
    assert (attention['off'], attention['on'], attention['speedup']) == \
        ('lever_eager_attn', 'adaptformer_b32', 1.25)
    assert levers['fused SGD, full fine-tune b8']['speedup'] == \
        pytest.approx(1.1)
    assert levers['fused AdamW, full fine-tune b8']['speedup'] is None


def test_runner_timing_leaves_out_the_first_window(tmp_path):
    scalars = tmp_path / 'scalars.json'
    scalars.write_text('\n'.join([
        json.dumps(dict(time=1.0, data_time=0.5, iter=10)),
        json.dumps(dict(lr=0.1, step=10)), 'not json',
        json.dumps(dict(time=0.2, data_time=0.01, iter=20)),
        json.dumps(dict(time=0.4, data_time=0.03, iter=30))]))
    timing = mr.runner_timing(str(scalars))
    assert (timing['logged_windows'], timing['windows_used'],
            timing['iters']) == (3, 2, [20, 30])
    assert timing['iter_time_ms'] == pytest.approx(300)
    assert timing['data_time_ms'] == pytest.approx(20)
    assert mr.runner_timing(str(tmp_path / 'missing.json')) == {}

    runner = mr.compare_runner('ok', timing, FAKE, compiled=False)
    assert runner['benchmark_step_ms'] == 80.
    assert runner['runner_over_benchmark'] == pytest.approx(3.75)
    assert runner['within_15_percent'] is False
    compiled = mr.compare_runner('ok', dict(timing, iter_time_ms=70.), FAKE,
                                 compiled=True)
    assert compiled['benchmark'] == 'lever_compile'
    assert compiled['runner_over_benchmark'] == pytest.approx(70 / 64)
    assert compiled['within_15_percent'] is True


def test_summary_of_fake_measurements(tmp_path, capsys):
    json_dir = tmp_path / 'gpu'
    json_dir.mkdir()
    for name in ('adaptformer_b32', 'adaptformer_b8_stock'):
        (json_dir / f'{name}.json').write_text(json.dumps(FAKE[name]))
    (json_dir / 'full_b8.json').write_text('{truncated')
    bench = mr.load_measurements(str(json_dir))
    assert set(bench) == {'adaptformer_b32', 'adaptformer_b8_stock'}
    assert 'unreadable' in capsys.readouterr().out
    steps = steps_by_name(DRY)
    steps['facts'] = Step('facts', 'setup', 120)
    outcomes = {'facts': Outcome('ok', 0, 9),
                'adaptformer_b32': Outcome('ok', 0, 30),
                'adaptformer_b8_stock': Outcome('ok', 0, 50),
                'full_b8': Outcome('failed', 1, 12, 'exit status 1'),
                'runner_data': Outcome('skipped', -1, 0, 'budget')}
    runner = mr.compare_runner('not run', {}, bench, compiled=False)
    text, report = mr.summarise(steps, outcomes, bench,
                                dict(gpu_name='H100', driver='550'), runner,
                                dry_run=False)
    lines = text.splitlines()
    assert lines[0].startswith('GPU report (GPU run); device H100, driver '
                               '550')
    row = next(line.split() for line in lines
               if line.startswith('adaptformer_b32 '))
    assert row[1:6] == ['ok', '32', '400.0', '80.0', '9000']
    assert any(line.split()[:3] == ['stock', 'mmaction2', 'ok']
               for line in lines)
    assert next(line for line in lines if line.startswith('full_b8')
                ).split()[1] == 'failed'
    met = next(line for line in lines
               if line.startswith('AdaptFormer-64 train b32'))
    assert met.split()[4:9] == ['>=', '450', '400', 'NO', '0.89']
    assert '  runner: no logged iteration time (step not run)' in lines
    assert '  runner / benchmark: n/a' in lines
    assert lines[-1] == 'steps not ok: full_b8 (failed), runner_data ' \
        '(skipped)'
    assert report['dry_run'] is False
    assert report['steps']['full_b8'] == dict(
        kind='bench', status='failed', rc=1, seconds=12,
        reason='exit status 1', command=steps['full_b8'].command)
    assert set(report['measurements']) == set(bench)
    assert [t['met'] for t in report['targets']][:3] == [False, False, False]
    json.dumps(report)  # plain data


def test_format_table_aligns_columns():
    assert format_table([('name', 'n', 'note'), ('a', 10, 'x'),
                         ('bbb', 2, 'longer')], 'lrl').splitlines() == [
        'name   n  note', '----  --  ------', 'a     10  x',
        'bbb    2  longer']


# ------------------------------------------------------------ launchers
FAKE_PYTHON = '''#!/usr/bin/env bash
echo "$PYTHONPATH|$*" >> "$CALLS"
[ "$1" = -c ] && exit "$IMPORT_RC"
exit 0
'''


@pytest.mark.parametrize('script,module,prefix', [
    ('gpu_report.sh', 'model_report', 'GPU_REPORT'),
    ('gpu_data_report.sh', 'data_report', 'GPU_DATA_REPORT')])
@pytest.mark.parametrize('importable', [True, False])
def test_launcher_installs_the_wheels_then_runs_the_module(
        tmp_path, script, module, prefix, importable):
    python, calls, wheels = tmp_path / 'python', tmp_path / 'calls', \
        tmp_path / 'wheels'
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    wheels.mkdir()
    for name in ('mmengine-0.10.7-py3-none-any.whl',
                 'PyNvVideoCodec-2.0-cp312-linux_x86_64.whl',
                 'torchcodec-0.7-cp312-linux_x86_64.whl'):
        (wheels / name).touch()
    env = dict(os.environ, PYTHON=str(python), CALLS=str(calls),
               IMPORT_RC='0' if importable else '1', PYTHONPATH='',
               **{f'{prefix}_WHEELS': str(wheels),
                  f'{prefix}_SITE': str(tmp_path / 'site')})
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', script), '--list',
                           'a b'], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    called = calls.read_text().splitlines()
    assert called[0].endswith('|-c import mmengine, mmcv, mmaction, '
                              'mmpretrain, decord')
    site = '' if importable else str(tmp_path / 'site')
    assert called[-1] == f'{site}|-m adaptformer_mm.benchmark.gpu.{module} ' \
        '--list a b'
    if importable:
        assert len(called) == 2
    else:  # the optional wheels are left to the data report
        assert called[1] == (
            f'|-m pip install -q --no-index --no-deps --no-compile '
            f'--no-cache-dir --upgrade --target {tmp_path / "site"} '
            f'{wheels / "mmengine-0.10.7-py3-none-any.whl"}')


def test_launcher_stops_without_the_stack_or_wheels(tmp_path):
    python = tmp_path / 'python'
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    env = dict(os.environ, PYTHON=str(python), CALLS=str(tmp_path / 'c'),
               IMPORT_RC='1', GPU_REPORT_WHEELS=str(tmp_path / 'none'))
    proc = subprocess.run(['bash', 'tools/gpu_report.sh'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert 'holds no wheels' in proc.stderr
    assert len((tmp_path / 'c').read_text().splitlines()) == 1


# ------------------------------------------------------------ dry run
@pytest.mark.slow
def test_dry_run_end_to_end(tmp_path, capsys):
    out, work = tmp_path / 'out', tmp_path / 'work'
    assert mr.main(['--dry-run', '--only', '^(adaptformer_b32|runner)$',
                    '--out', str(out), '--work', str(work)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        'gpu_report.json', 'gpu_report.tar.gz', 'machine.json',
        'machine.txt', 'summary.txt']
    machine = json.loads((out / 'machine.json').read_text())
    assert machine['cpu_count'] == os.cpu_count()
    assert machine['mmengine'] != 'not installed'
    assert '== nvidia-smi' in (out / 'machine.txt').read_text()

    report = json.loads((out / 'gpu_report.json').read_text())
    assert {n: s['status'] for n, s in report['steps'].items()} == {
        'facts': 'ok', 'adaptformer_b32': 'ok', 'runner_data': 'ok',
        'runner': 'ok'}
    result = report['measurements']['adaptformer_b32']
    assert (result['device'], result['amp'], result['batch'],
            result['input_shape']) == ('cpu', 'bf16', 2, [3, 4, 32, 32])
    assert result['model']['backbone'] == 'AdaptFormerVideoViT'
    train = report['targets'][0]
    assert train['value'] == result['model']['train_clips_per_s']
    runner = report['runner']
    assert runner['benchmark_step_ms'] == result['model']['train_step_ms']
    assert runner['runner_over_benchmark'] == pytest.approx(
        runner['iter_time_ms'] / runner['benchmark_step_ms'])
    summary = (out / 'summary.txt').read_text()
    assert summary.startswith('GPU report (DRY RUN')
    assert 'runner / benchmark = ' in summary
    assert summary.strip() in printed
    with tarfile.open(out / 'gpu_report.tar.gz') as tar:
        names = set(tar.getnames())
    assert {'summary.txt', 'gpu_report.json', 'machine.json',
            'benchmarks/gpu/adaptformer_b32.json', 'logs/steps/runner.log',
            'logs/runner/scalars.json'} <= names
    assert work.is_dir()  # a given scratch folder stays
