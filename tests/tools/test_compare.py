"""tools/compare.py on configs that are not the demo's: two methods (child
configs of the demo's linear-probe and AdaptFormer transfer configs, shrunk,
on the synthetic *direction* task) x two lrs x two seeds.

* locally, end to end in this process (1 epoch, 16 clips, 2 stages side by
  side with 1 thread each): killed after 3 stages, then run again: the
  finished stages are not rerun, a stage stopped after its checkpoint
  resumes; run a third time, nothing runs;
* through a stand-in ``sbatch`` on PATH (records its command line; the test
  then runs the array's tasks itself, with a stand-in ``srun`` that writes a
  run's result files): one job array per step, stages still running are not
  submitted twice, a failed task is submitted again;
* through ``tools/dist_train.sh`` with a stand-in ``python`` (torchrun's
  command line recorded, result files written);
* bad input stops before any stage starts, naming the flag, file or key;
* a UniFormerV2-shaped pair of configs (the CLIP video family) end to end.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from adaptformer_mm.apis import build_model
from adaptformer_mm.experiments import LocalRunner

from ..conftest import REPO, load_tool
from ..experiments import fake_runs

TRANSFER = '_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py'
METHODS = ('linear-probe', 'adaptformer-8')
D, CLASSES, R = 32, 4, 8
LINEAR = 2 * D + D * CLASSES + CLASSES  # fc_norm, BN + Linear head
ADAPTER = D * R + R + R * D + D  # one block
CHILD = """\
_base_ = [{parent!r}]
synthetic = dict(task='{task}', num_train=16, num_val=8, num_test=8)
model = dict(
    backbone=dict(embed_dims={d}, depth=1, num_heads=2,
                  init_cfg=dict(checkpoint={pretrained!r})),
    cls_head=dict(in_channels={d}, num_classes={classes}))
"""
# One epoch on the synthetic clips of {data}, every split.
DATA = """\
loader = dict(batch_size=4, num_workers=0, persistent_workers=False)
train_dataloader = dict(dataset=dict(data_root={data!r}, **synthetic),
                        **loader)
val_dataloader = dict(dataset=dict(data_root={data!r}, **synthetic), **loader)
test_dataloader = dict(dataset=dict(data_root={data!r}, **synthetic),
                       **loader)
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""
CHILD += DATA


def write_child(folder, method, task='direction', classes=CLASSES,
                shared=None, **kw):
    """A method's tiny config in ``folder``; its clips and pre-trained
    backbone in ``shared`` (default: ``folder``)."""
    shared = shared or folder
    path = osp.join(folder, f'{method}_vit-micro_{task}.py')
    with open(path, 'w') as f:
        f.write(CHILD.format(
            parent=osp.join(REPO, 'configs', 'demo', method + TRANSFER),
            task=task, d=D, classes=classes,
            pretrained=osp.join(shared, 'pretrained.pth'),
            data=osp.join(shared, 'data')) + ''.join(
                f'{k} = {v!r}\n' for k, v in kw.items()))
    return path


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    """The two methods' configs and a pre-trained tiny backbone for them."""
    folder = str(tmp_path_factory.mktemp('compare_configs'))
    paths = [write_child(folder, m) for m in METHODS]
    cfg = Config.fromfile(paths[0])
    cfg.model.backbone.pop('init_cfg')
    torch.manual_seed(0)
    state = {k: v for k, v in build_model(cfg).state_dict().items()
             if k.startswith('backbone.')}
    torch.save(dict(state_dict=state), osp.join(folder, 'pretrained.pth'))
    return folder, paths


def compare_argv(paths, work_dir, *more):
    return [*paths, '--lrs', '0.001', '0.01', '--seeds', '0', '1',
            '--work-dir', str(work_dir), *more]


def mtimes(work_dir, name):
    return {d: os.stat(osp.join(d, name)).st_mtime_ns
            for d, _, files in os.walk(work_dir) if name in files}


@pytest.fixture(scope='module')
def local(configs, tmp_path_factory):
    """The comparison killed after 3 stages, one of them then stopped
    after its checkpoint, and run again; the stages each call ran."""
    _, paths = configs
    work_dir = tmp_path_factory.mktemp('local') / 'run'
    argv = compare_argv(paths, work_dir, '--jobs', '2', '--threads', '1')
    compare = load_tool('compare')
    calls = []
    original = LocalRunner.run

    def killed_after_three(self, todo, done):
        original(self, todo[:3], done)
        raise RuntimeError('killed')

    def recorded(self, todo, done):
        calls.append([(osp.basename(s.work_dir), resume)
                      for s, resume in todo])
        return original(self, todo, done)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalRunner, 'run', killed_after_three)
        with pytest.raises(RuntimeError, match='killed'):
            compare.main(argv)
    grid = osp.join(work_dir, 'runs', 'direction_all')
    first = sorted(os.listdir(grid))
    finished = mtimes(work_dir, 'test_metrics.json')
    # stopped after its checkpoint, before the test split
    stopped = osp.join(grid, 'linear-probe_lr0.01_seed0')
    os.remove(osp.join(stopped, 'test_metrics.json'))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalRunner, 'run', recorded)
        result = compare.main(argv)
        again = compare.main(argv)
    return dict(work_dir=str(work_dir), argv=argv, first=first,
                finished=finished, stopped=stopped, calls=calls,
                result=result, again=again)


def test_killed_then_resumed_without_rerunning_finished_stages(local):
    grid_runs = [f'{m}_lr{lr}_seed0' for m in METHODS
                 for lr in ('0.001', '0.01')]
    assert [n for n in local['first'] if not n.endswith('.py')] == sorted(
        grid_runs)  # the fourth had started when the kill came
    assert len(local['finished']) == 3
    # run again: the stopped stage resumes, the unfinished one runs, the
    # finished ones do not; then the seeds
    assert local['calls'][0] == [('linear-probe_lr0.01_seed0', True),
                                 ('adaptformer-8_lr0.01_seed0', False)]
    second = [name for name, _ in local['calls'][1]]
    assert second and all(name.endswith('_seed1') for name in second)
    after = mtimes(local['work_dir'], 'test_metrics.json')
    kept = {d: t for d, t in local['finished'].items()
            if d != local['stopped']}
    assert {d: after[d] for d in kept} == kept
    attempts = [json.loads(line) for line in open(
        osp.join(local['stopped'], 'attempts.jsonl'))]
    assert [a['resume'] for a in attempts] == [False, True]
    assert all(a['exit_code'] == 0 for a in attempts)
    # run a third time: nothing runs, the same report
    assert local['calls'][2:] == [[], []]
    assert local['again']['runs'] == local['result']['runs']


def test_report_of_the_choices_counts_and_figures(local):
    result, work_dir = local['result'], local['work_dir']
    assert result['complete'] is True
    choice = result['choices']['direction']
    val = {m: {float(lr): v for lr, v in by.items()}
           for m, by in choice['val'].items()}
    for method, lr in choice['tuned'].items():  # each method's best on val
        assert val[method][lr] == max(val[method].values())
    runs = result['runs']
    assert len(runs) == 4 + sum(
        len({choice['shared'], choice['tuned'][m]}) for m in METHODS)
    assert [(r['protocol'], r['method'], r['n']) for r in result['rows']] \
        == [(p, m, 2) for p in ('shared', 'tuned') for m in METHODS]
    params = result['params']
    assert params['linear-probe']['trainable'] == LINEAR
    assert params['adaptformer-8']['trainable'] == LINEAR + ADAPTER
    assert params['adaptformer-8']['total'] - \
        params['linear-probe']['total'] == ADAPTER
    md = open(osp.join(work_dir, 'results.md')).read()
    assert '# 2 methods on direction' in md
    assert f'| linear-probe | shared | {LINEAR} |' in md
    assert "## direction, the config's training set" in md
    assert '| mean over methods |' in md and 'Paper' not in md
    png = open(osp.join(work_dir, 'accuracy_vs_params.png'), 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    for r in runs:
        stage = osp.join(work_dir, r['work_dir'])
        command = open(osp.join(stage, 'command.txt')).read()
        assert 'tools/train.py' in command and '--test' in command
        assert f"'optimizer': {{'lr': {r['lr']}}}" in open(
            stage + '_config.py').read()


def test_rerun_reports_every_stage_done(local, capsys):
    load_tool('compare').main(local['argv'])
    total = len(local['result']['runs'])
    assert f'{total} of {total} stages done' in capsys.readouterr().out


def test_another_plan_in_the_work_dir_is_refused(local, capsys):
    before = mtimes(local['work_dir'], 'stage.json')
    argv = [a if a != '0.01' else '0.02' for a in local['argv']]
    with pytest.raises(SystemExit) as exc:
        load_tool('compare').main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f'work dir {local["work_dir"]} holds another plan' in err
    assert 'plan.lrs: [0.001, 0.01] there, [0.001, 0.02] here' in err
    assert mtimes(local['work_dir'], 'stage.json') == before


# ------------------------------------------------------------ stand-ins
@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Stand-in ``sbatch`` (records its command line, prints a job id) and
    ``srun`` (a fake training run) first on PATH; no ``squeue``."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'sbatch.jsonl'
    (bin_dir / 'sbatch').write_text(
        f'#!{sys.executable}\nimport json, os, sys\n'
        f'log = {str(log)!r}\n'
        'calls = open(log).readlines() if os.path.exists(log) else []\n'
        "open(log, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        'print(42 + len(calls))\n')
    (bin_dir / 'srun').write_text(
        f'#!{sys.executable}\nimport sys\n'
        f'sys.path.insert(0, {osp.dirname(fake_runs.__file__)!r})\n'
        'from fake_runs import fake_trainer\n'
        'sys.exit(fake_trainer(sys.argv[1:]))\n')
    for tool in ('sbatch', 'srun'):
        (bin_dir / tool).chmod(0o755)
    path = ':'.join(d for d in os.environ['PATH'].split(':')
                    if not osp.isfile(osp.join(d, 'squeue')))
    monkeypatch.setenv('PATH', f'{bin_dir}:{path}')
    monkeypatch.delenv('FAIL_STAGES', raising=False)
    return lambda: [json.loads(line) for line in open(log)] \
        if log.exists() else []


def run_array(work_dir, index, fail=()):
    """Slurm's part: every task of array ``index``, as Slurm would run it."""
    record = json.load(open(osp.join(work_dir, 'slurm',
                                     f'array_{index}.json')))
    for task in range(len(record['stages'])):
        subprocess.run(['bash', record['script']], check=False, env=dict(
            os.environ, SLURM_ARRAY_TASK_ID=str(task),
            SLURM_ARRAY_JOB_ID=record['job_id'], FAIL_STAGES=','.join(fail)))
    return record


def test_slurm_array_submitted_run_and_resubmitted(configs, cluster,
                                                   tmp_path, capsys):
    _, paths = configs
    work_dir = str(tmp_path / 'slurm run')
    argv = compare_argv(paths, work_dir, '--data-sizes', '2', '4',
                        '--launcher', 'slurm', '--partition', 'gpu',
                        '--gpus', '2')
    compare = load_tool('compare')
    assert compare.main(argv)['complete'] is False
    (sbatch, ) = cluster()
    assert sbatch[:2] == ['--parsable', '--array=0-3']
    assert {'--partition=gpu', '--ntasks=2', '--gres=gpu:2'} <= set(sbatch)
    script = osp.join(work_dir, 'slurm', 'array_0.sh')
    assert sbatch[-1] == script
    out = capsys.readouterr().out
    assert 'not complete: 0 of 4 stages done; 4 missing: k4 ' \
        'linear-probe_lr0.001_seed0, ' in out
    assert 'submitted as Slurm array job 42 (tasks 0-3' in out

    # run again while the array is queued: nothing is submitted twice
    compare.main(argv)
    assert len(cluster()) == 1
    assert '4 of them queued or running in Slurm array job(s) 42' in \
        capsys.readouterr().out

    # the cluster runs it; one task fails and is submitted again alone
    record = run_array(work_dir, 0, fail=['adaptformer-8_lr0.01_seed0'])
    launched = json.loads(open(osp.join(
        record['stages'][0], 'launched.jsonl')).readline())['argv']
    assert launched[:2] == ['-p', 'gpu'] and '--ntasks=2' in launched
    assert launched[launched.index('-u') + 1].endswith('tools/train.py')
    assert launched[-5:] == ['--launcher', 'slurm', '--work-dir',
                             record['stages'][0], '--test']
    assert "'shots': 4" in open(record['stages'][0] + '_config.py').read()
    compare.main(argv)
    assert cluster()[1][1] == '--array=0-0'
    assert 'not complete: 3 of 4 stages done; 1 missing: k4 ' \
        'adaptformer-8_lr0.01_seed0' in capsys.readouterr().out
    run_array(work_dir, 1)

    # the grid is done: the lrs are chosen, the seeds submitted; a partial
    # report meanwhile
    partial = compare.main(argv)
    assert partial['complete'] is False and partial['choices']
    seeds = run_array(work_dir, 2)
    assert any('_k2' in d for d in seeds['stages'])
    result = compare.main(argv)
    assert result['complete'] is True and len(cluster()) == 3
    # fake val: linear-probe best at the smaller lr, AdaptFormer and the
    # mean of both at the larger
    choice = result['choices']['direction']
    assert choice['tuned'] == {'linear-probe': 0.001, 'adaptformer-8': 0.01}
    assert choice['shared'] == 0.01
    assert {(r['size'], r['n']) for r in result['rows']} == {(2, 2), (4, 2)}
    assert osp.getsize(osp.join(work_dir, 'accuracy_vs_data.png')) > 10_000


def test_dist_launcher_runs_each_stage_through_dist_train(configs, tmp_path,
                                                          monkeypatch):
    _, paths = configs
    python = tmp_path / 'python'
    python.write_text(
        f'#!{sys.executable}\nimport sys\n'
        f'sys.path.insert(0, {osp.dirname(fake_runs.__file__)!r})\n'
        'from fake_runs import fake_trainer\n'
        'sys.exit(fake_trainer(sys.argv[1:]))\n')
    python.chmod(0o755)
    monkeypatch.setenv('PYTHON', str(python))
    work_dir = str(tmp_path / 'dist')
    result = load_tool('compare').main(
        [*paths, '--lrs', '0.001', '0.01', '--seeds', '0', '--work-dir',
         work_dir, '--launcher', 'pytorch', '--gpus', '1', '--jobs', '2'])
    assert result['complete'] is True and len(result['runs']) == 4
    for r in result['runs']:
        stage = osp.join(work_dir, r['work_dir'])
        (launch, ) = [json.loads(line)
                      for line in open(osp.join(stage, 'launched.jsonl'))]
        argv = launch['argv']
        assert argv[:2] == ['-m', 'torch.distributed.run']
        assert '--nproc_per_node=1' in argv
        assert argv[argv.index('--nproc_per_node=1') + 2:] == [
            osp.join(REPO, 'tools', 'train.py'), stage + '_config.py',
            '--launcher', 'pytorch', '--work-dir', stage, '--test']
        assert launch['cuda'] in ('0', '1')  # one GPU slot of two
        assert 'tools/dist_train.sh' in open(
            osp.join(stage, 'command.txt')).read()


@pytest.mark.parametrize('change, message', [
    (dict(launcher='kube'),
     "argument --launcher: invalid choice: 'kube' (choose from 'none', "
     "'pytorch', 'slurm')"),
    (dict(launcher='slurm'), '--launcher slurm needs --partition'),
    (dict(launcher='slurm', partition='gpu'), '--launcher slurm: sbatch is '
     'not on PATH'),
    (dict(task='order'), 'disagree on the training data: '
     "train_dataloader.dataset.task is 'order' and 'direction'"),
    (dict(classes=5), 'disagree on the number of classes: '
     'model.cls_head.num_classes=5, model.cls_head.num_classes=4'),
    (dict(backbone='NoSuchViT'), "model.backbone.type='NoSuchViT' is not a "
     "registered type in scope 'mmaction': the config does not build"),
    (dict(lrs=['0.1', '0.1']), '--lrs: [0.1, 0.1]; give at least one '
     'value, each once'),
    (dict(sizes=['2', '0.5']), '--data-sizes: '),
])
def test_bad_input_is_named_before_any_stage_starts(configs, tmp_path,
                                                    capsys, monkeypatch,
                                                    change, message):
    folder, paths = configs
    monkeypatch.setenv('PATH', ':'.join(
        d for d in os.environ['PATH'].split(':')
        if not osp.isfile(osp.join(d, 'sbatch'))))
    paths = list(paths)
    if 'task' in change or 'classes' in change or 'backbone' in change:
        kw = dict(model=dict(backbone=dict(type=change['backbone']))) \
            if 'backbone' in change else {}
        paths[1] = write_child(str(tmp_path), 'adaptformer-8',
                               change.get('task', 'direction'),
                               change.get('classes', CLASSES), folder, **kw)
    work_dir = tmp_path / 'never'
    argv = [*paths, '--lrs', *change.get('lrs', ['0.001', '0.01']),
            '--work-dir', str(work_dir),
            '--launcher', change.get('launcher', 'none')]
    if 'sizes' in change:
        argv += ['--data-sizes', *change['sizes']]
    if 'partition' in change:
        argv += ['--partition', change['partition']]
    with pytest.raises(SystemExit) as exc:
        load_tool('compare').main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not work_dir.exists()


# A UniFormerV2-shaped row: the CLIP video family through the harness, tiny,
# from random weights (no pretrained file, no download), on the demo's data.
UNIFORMER = """\
_base_ = [{parent!r}]
synthetic = dict(task='direction', num_train=8, num_val=4, num_test=4)
model = dict(
    _delete_=True, type='Recognizer3D',
    backbone=dict(
        type='{backbone}', input_resolution=64, patch_size=16, width={d},
        layers=2, heads=2, t_size=8, no_lmhra=True, return_list=[0, 1],
        n_layers=2, n_dim={d}, n_head=2, mlp_dropout=[0.5, 0.5],
        clip_pretrained=False{extra}),
    cls_head=dict(type='UniFormerHead', num_classes={classes},
                  in_channels={d}, average_clips='score'),
    data_preprocessor=dict(type='ActionDataPreprocessor',
                           mean=[114.75] * 3, std=[57.375] * 3,
                           format_shape='NCTHW'))
""" + DATA


def test_a_uniformerv2_comparison_runs_end_to_end(tmp_path):
    paths = []
    for method, backbone, extra in (
            ('linear-probe', 'TunableUniFormerV2', ''),
            ('adaptformer-8', 'AdaptFormerUniFormerV2',
             ', adapter_cfg=dict(bottleneck=8)')):
        path = str(tmp_path / f'{method}_uniformerv2-micro_direction.py')
        with open(path, 'w') as f:
            f.write(UNIFORMER.format(
                parent=osp.join(REPO, 'configs', 'demo', method + TRANSFER),
                backbone=backbone, d=D, classes=CLASSES, extra=extra,
                data=str(tmp_path / 'data')))
        paths.append(path)
    work_dir = tmp_path / 'run'
    result = load_tool('compare').main(
        [*paths, '--lrs', '0.01', '--seeds', '0', '--work-dir',
         str(work_dir), '--jobs', '1', '--threads', '1'])
    assert result['complete'] is True
    params = result['params']
    # AdaptFormer adds one AdaptMLP per CLIP block (2 blocks of width D).
    assert params['adaptformer-8']['total'] - \
        params['linear-probe']['total'] == 2 * ADAPTER
    assert params['adaptformer-8']['trainable'] - \
        params['linear-probe']['trainable'] == 2 * ADAPTER
    assert [(r['method'], r['n']) for r in result['rows']
            if r['protocol'] == 'shared'] == [(m, 1) for m in METHODS]
