"""A plan run in a work dir, re-entrantly (adaptformer_mm/experiments/
harness.py): killed and run again, only the missing stages run; a stopped
stage resumes from its checkpoint; another plan, an edited config or changed
stage settings are refused before any stage starts, and nothing is
overwritten. Stages are faked (:mod:`.fake_runs`): no training here."""
import os
import os.path as osp

import pytest

from adaptformer_mm.experiments import (Comparison, Method, Plan,
                                        PlanChanged, Stage,
                                        StageChanged)
from adaptformer_mm.experiments import stages as stages_module

from .fake_runner import FakeRunner

LRS, SEEDS = [0.01, 0.1], [0, 1]


@pytest.fixture
def configs(tmp_path):
    """Two methods' configs (plain config files, nothing to build)."""
    paths = {}
    for key in ('lin', 'ada'):
        path = tmp_path / f'{key}_tiny.py'
        path.write_text(f"model = dict(type='{key}')\n"
                        'optim_wrapper = dict(optimizer=dict(lr=0.5))\n'
                        'randomness = dict(seed=0)\n')
        paths[key] = str(path)
    return paths


def comparison(configs, work_dir, runner, lrs=LRS, extra=None):
    plan = Plan(tuple(Method(k, k, p) for k, p in configs.items()), lrs=lrs,
                seeds=SEEDS)

    def make_stage(key):
        info = plan.run_info(key)
        options = {'optim_wrapper.optimizer.lr': key.lr,
                   'randomness.seed': key.seed, **(extra or {})}
        return Stage(key.name, configs[key.method],
                     osp.join(work_dir, info['work_dir']), options, info)

    return Comparison(plan, work_dir, make_stage, runner, log=lambda s: None)


def snapshot(work_dir):
    """Every file under work_dir with its modification time."""
    return {osp.join(d, f): os.stat(osp.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(work_dir) for f in files}


def test_killed_after_three_stages_then_only_the_missing_stages_run(
        configs, tmp_path):
    work_dir = str(tmp_path / 'run')
    first = FakeRunner(fail_after=3)
    with pytest.raises(RuntimeError, match='killed'):
        comparison(configs, work_dir, first).run()
    assert first.calls == [('lin', 0.01, 0, False), ('lin', 0.1, 0, False),
                           ('ada', 0.01, 0, False)]
    # the stages that finished, and the plan (the fourth stage had started)
    before = {f: t for f, t in snapshot(work_dir).items()
              if 'ada_lr0.1_seed0' not in f}

    second = FakeRunner()
    progress = comparison(configs, work_dir, second).run()
    # the fourth grid run, then the seeds: 'lin' best at 0.01, 'ada' and
    # the mean over both at 0.1
    assert second.calls == [('ada', 0.1, 0, False), ('lin', 0.01, 1, False),
                            ('lin', 0.1, 1, False), ('ada', 0.1, 1, False)]
    assert progress.complete and progress.total == 7
    assert progress.choices['data']['shared'] == 0.1
    assert progress.choices['data']['tuned'] == dict(lin=0.01, ada=0.1)
    after = snapshot(work_dir)
    assert {f: after[f] for f in before} == before  # not rewritten
    assert len(progress.runs) == 7

    third = FakeRunner()
    again = comparison(configs, work_dir, third).run()
    assert third.calls == [] and again.complete
    assert [r['test'] for r in again.runs] == \
        [r['test'] for r in progress.runs]


def test_a_stopped_stage_resumes_from_its_checkpoint(configs, tmp_path):
    work_dir = str(tmp_path / 'run')
    comparison(configs, work_dir, FakeRunner()).run()
    runs = osp.join(work_dir, 'runs', 'data_all')
    # killed after its checkpoint, before the test split
    os.remove(osp.join(runs, 'lin_lr0.1_seed0', 'test_metrics.json'))
    # killed before any checkpoint
    stopped = osp.join(runs, 'lin_lr0.01_seed1')
    for name in os.listdir(stopped):
        if name != 'stage.json':
            path = osp.join(stopped, name)
            if osp.isfile(path):
                os.remove(path)
    runner = FakeRunner()
    assert comparison(configs, work_dir, runner).run().complete
    assert runner.calls == [('lin', 0.1, 0, True), ('lin', 0.01, 1, False)]


def test_another_plan_is_refused_naming_the_setting(configs, tmp_path):
    work_dir = str(tmp_path / 'run')
    comparison(configs, work_dir, FakeRunner()).run()
    before = snapshot(work_dir)
    runner = FakeRunner()
    with pytest.raises(PlanChanged) as exc:
        comparison(configs, work_dir, runner, lrs=[0.01, 0.2]).run()
    assert f'work dir {work_dir} holds another plan' in str(exc.value)
    assert 'plan.lrs: [0.01, 0.1] there, [0.01, 0.2] here' in str(exc.value)
    assert runner.calls == [] and snapshot(work_dir) == before


def test_an_edited_config_is_refused_naming_the_method(configs, tmp_path):
    work_dir = str(tmp_path / 'run')
    comparison(configs, work_dir, FakeRunner()).run()
    before = snapshot(work_dir)
    with open(configs['ada'], 'a') as f:
        f.write("model = dict(type='ada', depth=3)\n")
    stages_module._base_config.cache_clear()  # as a new process reads it
    with pytest.raises(PlanChanged, match=r'config_hashes\.ada: '):
        comparison(configs, work_dir, FakeRunner()).run()
    assert snapshot(work_dir) == before


def test_changed_stage_settings_are_refused_naming_each_folder(configs,
                                                               tmp_path):
    """The plan is the same, but the stages' merged configs are not (a
    setting outside the plan changed): every finished stage is named, none
    reruns."""
    work_dir = str(tmp_path / 'run')
    comparison(configs, work_dir, FakeRunner()).run()
    before = snapshot(work_dir)
    runner = FakeRunner()
    with pytest.raises(StageChanged) as exc:
        comparison(configs, work_dir, runner,
                   extra={'train_cfg.max_epochs': 2}).run()
    message = str(exc.value)
    assert message.count('its merged config changed since it ran') == 7
    assert osp.join(work_dir, 'runs', 'data_all', 'ada_lr0.1_seed1') in \
        message
    assert runner.calls == [] and snapshot(work_dir) == before


def test_a_folder_without_a_plan_is_refused(configs, tmp_path):
    work_dir = tmp_path / 'used'
    work_dir.mkdir()
    (work_dir / 'notes.txt').write_text('mine')
    with pytest.raises(PlanChanged, match='is not empty and holds no '
                       'plan.json'):
        comparison(configs, str(work_dir), FakeRunner()).run()
    assert os.listdir(work_dir) == ['notes.txt']
