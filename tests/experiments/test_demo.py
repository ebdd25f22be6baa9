"""The synthetic main job's own parts (adaptformer_mm/experiments/demo.py):
its transfer stages, the pre-training cache, the t-SNE of the methods'
features and its default plan run with faked stages, in process (no
training: a finished stage's files are written, checkpoints come from
freshly built models)."""
import json
import os
import os.path as osp
import shlex

import pytest
import torch

from adaptformer_mm.apis import build_model
from adaptformer_mm.experiments import RunKey
from adaptformer_mm.experiments import demo
from adaptformer_mm.experiments import stages as stages_module
from adaptformer_mm.experiments.demo import (DATA_SIZES, DEFAULT_LRS,
                                             METHODS, DemoSettings,
                                             draw_tsne, finish_pretrain,
                                             make_plan, pretrain_entry,
                                             transfer_stage)
from adaptformer_mm.experiments.stages import prepare_data
from adaptformer_mm.analysis.features import FeatureSet

from .fake_runner import FakeRunner
from .fake_runs import write_results


def settings(tmp_path, **kw):
    return DemoSettings(**dict(dict(
        methods=['linear-probe', 'adaptformer-8'], protocols=['tuned'],
        seeds=[0, 1], lrs=[0.002, 0.02], tasks=['dynamics', 'order'],
        pretrain_seeds=[0], data_sizes=[16], jobs=2, threads=1, quick=True,
        data_root=str(tmp_path / 'data')), **kw))


def test_a_transfer_stage_of_the_order_task(tmp_path):
    s = settings(tmp_path)
    plan = make_plan(s)
    key = RunKey('order', 16, 0, 'adaptformer-8', 0.02, 1)
    stage = transfer_stage(s, plan, str(tmp_path / 'run'),
                           {0: dict(checkpoint='/ckpt/pre.pth')}, key)
    assert stage.work_dir == str(tmp_path / 'run' / 'runs' / 'order_n16_pre0'
                                 / 'adaptformer-8_lr0.02_seed1')
    cfg = stage.merged()
    assert cfg.model.backbone.init_cfg.checkpoint == '/ckpt/pre.pth'
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.randomness.seed == 1 and cfg.train_cfg.max_epochs == 2
    for loader in ('train', 'val', 'test'):
        dataset = cfg[f'{loader}_dataloader'].dataset
        assert (dataset.task, dataset.num_train, dataset.num_val,
                dataset.num_test) == ('order', 16, 8, 8)
        assert dataset.data_root == s.data_root


def finished_pretraining(entry):
    """What a pre-training stage leaves in its folder."""
    stage = entry['stage']
    stage.write(f'OMP_NUM_THREADS=2 python tools/train.py '
                f'{shlex.quote(stage.stage_config)} --work-dir '
                f'{shlex.quote(stage.work_dir)} --test')
    write_results(stage.work_dir, 0.43, 0.41)
    return dict(stage.result(), seconds=12.0)


def test_pretraining_is_cached_by_config_and_seed(tmp_path, capsys):
    s = settings(tmp_path, pretrain_seeds=[0, 1])
    entry = pretrain_entry(s, 0, str(tmp_path / 'run'))
    cache = entry['cache']
    assert osp.dirname(cache) == osp.join(s.data_root, 'pretrained')
    assert entry['stage'].work_dir == f'{cache}.tmp-{os.getpid()}'
    assert entry['stage'].threads == 2 * 1 // 2  # two seeds share 2 slots
    # the cache key holds the settings and seed, not the data root
    other_root = pretrain_entry(settings(tmp_path / 'b', pretrain_seeds=[
        0, 1]), 0, str(tmp_path / 'run'))['cache']
    assert osp.basename(other_root) == osp.basename(cache)
    assert osp.basename(pretrain_entry(s, 1, '')['cache']) != \
        osp.basename(cache)

    meta = finish_pretrain(entry, finished_pretraining(entry))
    assert meta['checkpoint'] == osp.join(cache, 'epoch_1.pth')
    assert not osp.exists(entry['stage'].work_dir)
    recorded = json.load(open(osp.join(cache, 'pretrain.json')))
    assert (recorded['val'], recorded['threads']) == (0.43, 1)
    command = shlex.split(open(osp.join(cache, 'command.txt')).read())
    assert command[-4:] == [osp.join(cache, 'stage_config.py'),
                            '--work-dir', cache, '--test']
    assert osp.isfile(command[-4])

    again = pretrain_entry(s, 0, str(tmp_path / 'run'))
    assert again['cached'] is True and again['checkpoint'] == \
        meta['checkpoint']
    assert f'reusing {cache} (val top-1 43.0%' in capsys.readouterr().out
    fresh = pretrain_entry(settings(tmp_path, fresh_pretrain=True), 0,
                           str(tmp_path / 'run'))
    assert fresh['stage'].work_dir == str(tmp_path / 'run' /
                                          'pretrain_seed0')


def test_an_interrupted_cache_folder_is_named(tmp_path):
    s = settings(tmp_path)
    cache = pretrain_entry(s, 0, '')['cache']
    os.makedirs(cache)
    with pytest.raises(FileExistsError, match=f'{cache} exists but holds no '
                       'pretrain.json'):
        pretrain_entry(s, 0, '')


def test_tsne_of_each_method_at_its_tuned_lr(tmp_path, one_torch_thread):
    """Each method's run at its tuned lr, seed 0: its test features are
    extracted from its stage's config and checkpoint, and drawn."""
    s = settings(tmp_path, tasks=['dynamics'])
    plan, root = make_plan(s), str(tmp_path / 'run')
    tuned = {'linear-probe': 0.02, 'adaptformer-8': 0.002}
    runs = []
    for method, lr in tuned.items():
        for other in s.lrs:  # the other lr's run must not be the one used
            key = RunKey('dynamics', 16, 0, method, other, 0)
            stage = transfer_stage(s, plan, root,
                                   {0: dict(checkpoint='unused.pth')}, key)
            os.makedirs(stage.work_dir)
            cfg = stage.merged()
            cfg.model.backbone.pop('init_cfg')
            cfg.dump(osp.join(stage.work_dir,
                              f'{osp.basename(stage.work_dir)}_config.py'))
            checkpoint = osp.join(stage.work_dir, 'epoch_2.pth')
            if other == lr:
                torch.save(dict(state_dict=build_model(cfg).state_dict()),
                           checkpoint)
            runs.append(dict(stage.info, checkpoint=checkpoint))
    prepare_data([stage])  # the clips, as before any stage starts
    choices = {'dynamics': dict(tuned=tuned)}
    tsne = draw_tsne(s, root, runs, choices)
    png = open(osp.join(root, 'tsne.png'), 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    assert set(tsne['features']) == set(tuned)
    for method, path in tsne['features'].items():
        assert osp.basename(osp.dirname(path)) == \
            f'{method}_lr{tuned[method]:g}_seed0'
        features = FeatureSet.load(osp.join(root, path))
        assert features.meta['split'] == 'test'
        assert features.labels.tolist() == [0, 1, 2, 3] * 2
        assert features.features.shape == (8, 64)


def test_default_plan_runs_32_clips_at_the_lrs_chosen_on_128(tmp_path,
                                                             monkeypatch):
    """The default main job with faked stages, pre-training and t-SNE: the
    grid runs on 128 clips only; 32 clips run every seed at exactly the lrs
    the two protocols chose there; the report has a table per size and
    draws accuracy against the data size."""
    monkeypatch.setattr(demo, 'LocalRunner', lambda jobs, threads:
                        FakeRunner())
    monkeypatch.setattr(demo, 'pretrain', lambda s, root: {0: dict(
        checkpoint='/ckpt/pre.pth', val=0.43, threads=2, cached=True)})
    monkeypatch.setattr(demo, 'draw_tsne', lambda s, root, runs, choices:
                        {})
    monkeypatch.setattr(stages_module, 'prepare_data', lambda stages: None)
    s = settings(tmp_path, methods=list(METHODS),
                 protocols=['shared', 'tuned'], seeds=[0, 1, 2],
                 lrs=list(DEFAULT_LRS), tasks=['dynamics'],
                 data_sizes=list(DATA_SIZES[False, False]), quick=False,
                 work_dir=str(tmp_path / 'run'))
    assert make_plan(s).data_sizes == (32, 128)
    result = demo.run(s)

    # fake_val: the linear probe is best at the smallest lr, the others and
    # the mean over methods at the largest
    choice = result['choices']['dynamics']
    assert choice['shared'] == 0.02
    assert choice['tuned'] == {'linear-probe': 0.002, 'vpt-deep-4': 0.02,
                               'adaptformer-8': 0.02, 'full-finetune': 0.02}
    chosen = {m: {0.02, choice['tuned'][m]} for m in METHODS}
    runs = {n: {(r['method'], r['lr'], r['seed']) for r in result['runs']
                if r['size'] == n} for n in (32, 128)}
    grid = {(m, lr, 0) for m in METHODS for lr in DEFAULT_LRS}
    seeds = {(m, lr, seed) for m in METHODS for lr in chosen[m]
             for seed in (0, 1, 2)}
    assert runs[128] == grid | seeds and runs[32] == seeds
    assert len(result['runs']) == 12 + 10 + 15  # grid, 128 more, 32
    lrs = {n: {(r['protocol'], r['method']): r['lr'] for r in result['rows']
               if r['size'] == n} for n in (32, 128)}
    assert lrs[32] == lrs[128] and len(lrs[32]) == 8
    assert all(r['n'] == 3 for r in result['rows'])

    md = open(tmp_path / 'run' / 'results.md').read()
    assert md.index('## dynamics, 128 training clips') < \
        md.index('## dynamics, 32 training clips')
    assert 'lr chosen on the val split (at 128 training clips; the smaller ' \
        'sizes use the lrs chosen there)' in md
    assert result['settings']['data_sizes'] == [32, 128]
    png = open(tmp_path / 'run' / 'accuracy_vs_data.png', 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
