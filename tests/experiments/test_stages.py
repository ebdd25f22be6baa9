"""A stage's files, its state and its launchers' command lines
(adaptformer_mm/experiments/stages.py), and results read back from a run's
files (results.py)."""
import json
import os
import os.path as osp
import subprocess

import pytest
from mmengine.config import Config

from adaptformer_mm.experiments import (LocalRunner, SlurmRunner, Stage,
                                        StageChanged, TorchrunRunner)
from adaptformer_mm.experiments.results import read_results
from adaptformer_mm.experiments.stages import config_hash

from ..conftest import REPO
from .fake_runs import write_results

CONFIG = osp.join(REPO, 'configs', 'demo',
                  'linear-probe_vit-tiny-p16_prim24-pre_adamw-24e_'
                  'synthetic-dynamics.py')


def stage(tmp_path, **options):
    work_dir = str(tmp_path / 'my runs' / 'lin_lr0.1_seed0')
    return Stage('lin lr 0.1', CONFIG, work_dir, dict({
        'optim_wrapper.optimizer.lr': 0.1,
        'model.backbone.init_cfg.checkpoint': str(tmp_path / 'a b.pth'),
    }, **options), info=dict(method='lin'), threads=2)


def test_the_stage_config_is_the_merged_config_whose_hash_is_recorded(
        tmp_path):
    s = stage(tmp_path, **{'train_dataloader.dataset': dict(
        _delete_=True, type='ClassBalancedSubset', shots=2,
        dataset=dict(type='SyntheticVideoDataset', data_root='d'))})
    s.write('true')
    assert s.stage_config == str(tmp_path / 'my runs' /
                                 'lin_lr0.1_seed0_config.py')
    cfg = Config.fromfile(s.stage_config)  # as tools/train.py reads it
    assert config_hash(cfg) == s.config_hash == json.load(
        open(osp.join(s.work_dir, 'stage.json')))['config_hash']
    assert cfg.model.backbone.init_cfg.checkpoint == str(tmp_path / 'a b.pth')
    assert cfg.train_dataloader.dataset.to_dict() == dict(
        type='ClassBalancedSubset', shots=2,
        dataset=dict(type='SyntheticVideoDataset', data_root='d'))
    assert s.config_hash != stage(tmp_path).config_hash


def test_state_from_new_to_done_and_a_changed_config(tmp_path):
    s = stage(tmp_path)
    assert s.state() == 'new'
    s.write('true')
    assert s.state() == 'rerun'  # started, no checkpoint yet
    open(osp.join(s.work_dir, 'epoch_1.pth'), 'w').close()
    assert s.state() == 'resume'
    write_results(s.work_dir, 0.5, 0.25)
    assert s.state() == 'done'
    changed = stage(tmp_path, **{'train_cfg.max_epochs': 3})
    with pytest.raises(StageChanged, match='its merged config changed'):
        changed.state()


def test_a_foreign_folder_is_not_taken_over(tmp_path):
    s = stage(tmp_path)
    os.makedirs(s.work_dir)
    open(osp.join(s.work_dir, 'epoch_3.pth'), 'w').close()
    with pytest.raises(StageChanged, match='holds files but no stage.json'):
        s.state()


def test_each_launcher_writes_a_command_that_reruns_the_stage(tmp_path):
    s = stage(tmp_path)
    local = LocalRunner(jobs=2, threads=1).command(s)
    assert local.startswith('OMP_NUM_THREADS=2 ')  # the stage's threads
    assert local.endswith(f"tools/train.py '{s.stage_config}' --work-dir "
                          f"'{s.work_dir}' --test")
    dist = TorchrunRunner(gpus=4).command(s)
    assert f"tools/dist_train.sh '{s.stage_config}' 4 --work-dir" in dist
    slurm = SlurmRunner(str(tmp_path), 'gpu', gpus=16).command(s)
    assert slurm.startswith('GPUS=16 GPUS_PER_NODE=8 ')
    assert 'tools/slurm_train.sh gpu compare-' in slurm


def test_the_slurm_array_script_maps_task_i_to_stage_i(tmp_path):
    a, b = stage(tmp_path), stage(tmp_path / 'b')
    script = SlurmRunner(str(tmp_path), 'gpu').script([(a, False), (b, True)])
    path = tmp_path / 'array.sh'
    path.write_text(script)
    assert subprocess.run(['bash', '-n', str(path)]).returncode == 0
    assert f"  0) WORK='{a.work_dir}'; RESUME=false;" in script
    assert f"  1) WORK='{b.work_dir}'; RESUME=true;" in script
    assert script.count('--resume') == 1
    proc = subprocess.run(['bash', str(path)], capture_output=True,
                          text=True, env=dict(os.environ,
                                              SLURM_ARRAY_TASK_ID='2'))
    assert proc.returncode == 2 and 'no such stage (0-1)' in proc.stderr


def test_results_over_attempts_and_metric_keys(tmp_path):
    work_dir = str(tmp_path)
    write_results(work_dir, 0.5, 0.25, trainable=7, total=70)
    # a resumed attempt: a later log folder repeats step 1 and validates
    later = tmp_path / '20260102_000000' / 'vis_data'
    later.mkdir(parents=True)
    (later / 'scalars.json').write_text(
        json.dumps(dict(loss=0.5, step=1)) + '\n' +
        json.dumps(dict(loss=0.4, step=2)) + '\n' +
        json.dumps({'accuracy/top1': 62.5, 'step': 2}) + '\n')
    for seconds in (3.0, 4.5):
        with open(tmp_path / 'attempts.jsonl', 'a') as f:
            f.write(json.dumps(dict(exit_code=0, seconds=seconds)) + '\n')
    r = read_results(work_dir)
    assert r['val'] == 0.625  # mmpretrain's percentage, as a fraction
    assert r['losses'] == [(1, 0.5), (2, 0.4)]
    assert (r['test'], r['trainable'], r['total']) == (0.25, 7, 70)
    assert r['seconds'] == 7.5
    (tmp_path / 'test_metrics.json').write_text('{"acc/top5": 1.0}')
    with pytest.raises(KeyError, match="test_metrics.json has no top-1"):
        read_results(work_dir)
