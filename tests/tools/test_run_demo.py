"""The built-in main job (tools/run_demo.py) in its --quick form.

Run from copies of the checkout in folders named ``adaptformer_mm`` and
``my demo`` (the natural clone name once broke the stage folders). Checks the
protocols' lr choices against the grid, exact parameter counts, the cache of
the pre-training, the files written and the refusals of bad input; accuracy
ordering is not asserted (2 epochs on 16 clips mean nothing).
"""
import json
import os
import os.path as osp
import shlex
import shutil
import subprocess

import pytest

from adaptformer_mm.experiments import choose_lrs

from ..conftest import REPO, load_tool, run_python

METHODS = ['linear-probe', 'vpt-deep-4', 'adaptformer-8', 'full-finetune']
D, DEPTH, CLASSES, R, TOKENS = 64, 4, 4, 8, 4
HEAD = D * CLASSES + CLASSES  # BNLinearHead: BatchNorm without affine
FC_NORM = 2 * D
ADAPTER = D * R + R + R * D + D
QUICK_LRS = [0.002, 0.02]  # the default grid's two ends under --quick


def copy_checkout(dst):
    """The files of this checkout a fresh clone of it would hold once its
    changes are committed: tracked and new files, not ignored or deleted
    ones."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others',
                            '--exclude-standard'], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout
    for rel in filter(None, files.split('\0')):
        if not osp.isfile(osp.join(REPO, rel)):
            continue
        os.makedirs(osp.join(dst, osp.dirname(rel)), exist_ok=True)
        shutil.copy2(osp.join(REPO, rel), osp.join(dst, rel))
    return str(dst)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """The default method set under --quick, from a folder `adaptformer_mm`."""
    root = tmp_path_factory.mktemp('demo')
    checkout = copy_checkout(root / 'adaptformer_mm')
    work_dir, data = str(root / 'run'), str(root / 'data')
    proc = run_python(['tools/run_demo.py', '--quick', '--work-dir',
                       work_dir, '--data-root', data], cwd=checkout)
    report = json.load(open(osp.join(work_dir, 'results.json')))
    return dict(work_dir=work_dir, data=data, proc=proc, report=report,
                checkout=checkout)


def test_every_method_and_lr_ran_in_its_own_folder(demo):
    runs = demo['report']['runs']
    folders = [r['work_dir'] for r in runs]
    assert len(set(folders)) == len(folders)
    grid = {(r['method'], r['lr']) for r in runs if r['seed'] == 0}
    assert grid == {(m, lr) for m in METHODS for lr in QUICK_LRS}
    for r in runs:
        stage = osp.join(demo['work_dir'], r['work_dir'])
        assert r['method'] in osp.basename(stage)
        assert osp.isfile(r['checkpoint'])
        assert osp.isfile(osp.join(stage, 'test_metrics.json'))
        assert 0.0 <= r['val'] <= 1.0 and 0.0 <= r['test'] <= 1.0
        command = open(osp.join(stage, 'command.txt')).read()
        assert 'tools/train.py' in command and '--test' in command


def test_protocol_choices_follow_the_val_grid(demo):
    report = demo['report']
    runs = [r for r in report['runs'] if r['seed'] == 0]
    expected = choose_lrs(runs, METHODS, QUICK_LRS)
    choice = report['choices']['dynamics']
    assert choice['shared'] == expected['shared']
    assert choice['tuned'] == expected['tuned']
    rows = report['rows']
    assert [(r['protocol'], r['method']) for r in rows] == \
        [(p, m) for p in ('shared', 'tuned') for m in METHODS]
    for r in rows:
        lr = (choice['shared'] if r['protocol'] == 'shared' else
              choice['tuned'][r['method']])
        tests = [100 * x['test'] for x in report['runs']
                 if x['method'] == r['method'] and x['lr'] == lr]
        assert r['lr'] == lr and r['n'] == 2  # --quick: seeds 0 and 1
        assert sorted(r['tests']) == pytest.approx(sorted(tests))


def test_exact_parameter_counts(demo):
    params = demo['report']['params']
    total = params['full-finetune']['total']
    assert params['full-finetune']['trainable'] == total
    assert params['linear-probe'] == dict(trainable=FC_NORM + HEAD,
                                          total=total)
    assert params['adaptformer-8']['trainable'] == \
        FC_NORM + HEAD + DEPTH * ADAPTER
    assert params['adaptformer-8']['total'] == total + DEPTH * ADAPTER
    assert params['vpt-deep-4']['trainable'] == \
        FC_NORM + HEAD + DEPTH * TOKENS * D
    # read from the summary each stage wrote, not from its log
    for r in demo['report']['runs']:
        summary = json.load(open(osp.join(demo['work_dir'], r['work_dir'],
                                          'tunable_summary.json')))
        assert (summary['trainable'], summary['total']) == \
            (r['trainable'], r['total'])
        assert sum(summary['groups'].values()) == r['trainable']


def test_report_files(demo):
    work_dir, report = demo['work_dir'], demo['report']
    md = open(osp.join(work_dir, 'results.md')).read()
    assert '| Method | Protocol | Tunable params | Tunable % |' in md
    assert '| AdaptFormer (r=8) | shared | 4,772 | 1.58 |' in md
    assert '| full fine-tune | tuned | 298,436 | 100.00 |' in md
    assert 'shared: ' in md and 'Paper SSv2' in md
    assert '| AdaptFormer (r=8) | shared | 4,772 |' in demo['proc'].stdout
    png = open(osp.join(work_dir, 'accuracy_vs_params.png'), 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    assert report['settings']['seeds'] == [0, 1]
    assert report['pretrain']['0']['cached'] is False
    # one pre-training on both stage slots: 2 jobs x 1 thread
    assert report['pretrain']['0']['threads'] == 2
    assert 'seed 0 ' in md and '% (2 thread(s))' in md
    # The cached pre-training's command reruns it from where it now lies.
    cache = osp.dirname(report['pretrain']['0']['checkpoint'])
    command = shlex.split(open(osp.join(cache, 'command.txt')).read())
    assert command[-4:] == [osp.join(cache, 'stage_config.py'),
                            '--work-dir', cache, '--test']
    assert osp.isfile(command[-4])


def test_tsne_of_each_method_at_its_tuned_lr(demo):
    from adaptformer_mm.analysis.features import FeatureSet
    work_dir, report = demo['work_dir'], demo['report']
    png = open(osp.join(work_dir, 'tsne.png'), 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    tsne = report['tsne']
    assert set(tsne['features']) == set(METHODS)
    tuned = report['choices']['dynamics']['tuned']
    for method, path in tsne['features'].items():
        # the feature file of the method's run at its tuned lr, seed 0
        run = osp.dirname(path)
        assert osp.basename(run) == f'{method}_lr{tuned[method]:g}_seed0'
        features = FeatureSet.load(osp.join(work_dir, path))
        assert features.meta['split'] == 'test'
        # --quick's test split: 8 clips, 2 of each class, in list order
        assert features.labels.tolist() == [0, 1, 2, 3] * 2
        assert features.features.shape == (8, 64)


def test_transfer_stages_load_the_pretrained_backbone(demo):
    report = demo['report']
    pretrained = report['pretrain']['0']['checkpoint']
    assert osp.isfile(pretrained)
    assert pretrained.startswith(osp.join(demo['data'], 'pretrained'))
    for r in report['runs']:
        log = open(osp.join(demo['work_dir'], r['work_dir'],
                            'console.log')).read()
        assert f'load backbone. in model from: {pretrained}' in log
        assert 'FROZEN' not in log  # every pretrained tensor was found


def test_full_reuses_the_cache_from_a_folder_with_a_space(demo,
                                                          tmp_path_factory):
    """--full: a second pre-training seed, two data sizes, the order task;
    pre-training seed 0 comes from the cache the first run wrote. The
    method is an optional row (the MLP-3 head), so one goes through the
    stages."""
    checkout = copy_checkout(tmp_path_factory.mktemp('space') / 'my demo')
    work_dir = osp.join(checkout, 'work_dirs', 'full run')
    # The first run's clips and cache, in a folder whose name has a space
    # too: the cached checkpoint's path reaches the stages in --cfg-options.
    data = osp.join(checkout, 'data dir')
    shutil.copytree(demo['data'], data)
    proc = run_python([
        'tools/run_demo.py', '--quick', '--full', '--work-dir', work_dir,
        '--data-root', data, '--methods', 'mlp-3', '--protocol', 'shared', '--seeds', '0', '--lrs',
        '0.01', '--pretrain-seeds', '0', '1'], cwd=checkout)
    assert 'reusing' in proc.stdout
    report = json.load(open(osp.join(work_dir, 'results.json')))
    assert report['pretrain']['0']['cached'] is True
    assert report['pretrain']['1']['cached'] is False
    # two pre-training seeds share the 2 slots, whatever the cache holds
    assert [report['pretrain'][s]['threads'] for s in '01'] == [2, 1]
    assert len(os.listdir(osp.join(data, 'pretrained'))) == 2
    assert report['pretrain']['0']['checkpoint'].startswith(data)
    rows = report['rows']
    assert {(r['task'], r['size']) for r in rows} == {
        (t, n) for t in ('dynamics', 'order') for n in (8, 16)}
    assert all(r['n'] == 2 for r in rows)  # 2 pre-training seeds x 1 seed
    assert {r['method'] for r in rows} == {'mlp-3'}
    assert len(report['runs']) == 2 * 2 * 2
    for name in ('accuracy_vs_params.png', 'accuracy_vs_data.png'):
        assert osp.getsize(osp.join(work_dir, name)) > 10_000


@pytest.mark.parametrize('flags, sizes', [
    ([], (32, 128)), (['--full'], (32, 128)), (['--quick'], (16, )),
    (['--quick', '--full'], (8, 16)), (['--data-sizes', '64'], (64, ))])
def test_data_sizes_of_the_plan(flags, sizes):
    """By default task B runs at 128 and 32 clips, the lr grid at 128."""
    run_demo = load_tool('run_demo')
    from adaptformer_mm.experiments.demo import make_plan
    plan = make_plan(run_demo.demo_settings(run_demo.parse_args(flags)))
    assert plan.data_sizes == sizes and plan.grid_size == max(sizes)


@pytest.mark.parametrize('flags, message', [
    (['--methods', 'lora'], "--methods: ['lora']"),
    (['--methods', 'lora'], "'lora-2', 'attentive-probe']"),
    (['--protocol', 'best'], "--protocol: 'best'; valid: ['shared', "
     "'tuned', 'both']"),
    (['--seeds', '0', 'one'], "--seeds: ['0', 'one'] are not all integers"),
    (['--seeds', '1', '1'], '--seeds'),
    (['--tasks', 'kinetics'], "valid: ['dynamics', 'order']"),
    (['--lrs', '0'], '--lrs'),
    (['--data-sizes', '32', 'all'], "--data-sizes: ['32', 'all'] are not "
     'all integers'),
])
def test_bad_flags_name_the_flag_and_the_valid_values(capsys, flags,
                                                      message):
    run_demo = load_tool('run_demo')
    with pytest.raises(SystemExit) as exc:
        run_demo.parse_args(flags)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_refuses_a_work_dir_of_other_settings(demo):
    """The same flags would continue the run; another data root is another
    plan, refused before any stage starts."""
    before = sorted(os.listdir(demo['work_dir']))
    proc = run_python(['tools/run_demo.py', '--quick', '--work-dir',
                       demo['work_dir']], check=False)
    assert proc.returncode != 0
    assert f'work dir {demo["work_dir"]} holds another plan' in proc.stderr
    assert f"settings.data_root: '{demo['data']}' there" in proc.stderr
    assert sorted(os.listdir(demo['work_dir'])) == before


def test_refuses_clips_made_with_other_generator_settings(demo, tmp_path):
    """A corpus folder whose meta.json disagrees with its settings is
    reported with its path before any stage starts; it is not touched."""
    data = str(tmp_path / 'data')
    folder = 'prim24_train48_val24_16x64_seed0'
    shutil.copytree(osp.join(demo['data'], folder), osp.join(data, folder))
    meta_file = osp.join(data, folder, 'meta.json')
    meta = json.load(open(meta_file))
    meta['size'] = 96
    json.dump(meta, open(meta_file, 'w'))
    proc = run_python(['tools/run_demo.py', '--quick', '--work-dir',
                       str(tmp_path / 'w'), '--data-root', data],
                      check=False)
    assert proc.returncode != 0
    assert f'{osp.join(data, folder)} already holds a synthetic dataset ' \
        'made with other parameters' in proc.stderr
    assert json.load(open(meta_file))['size'] == 96
