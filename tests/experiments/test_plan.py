"""Which runs a plan makes (adaptformer_mm/experiments/plan.py)."""
import pytest

from adaptformer_mm.experiments import Method, Plan, Progress, RunKey

METHODS = tuple(Method(k, k.upper(), f'{k}.py') for k in ('lin', 'ada'))


def test_grid_is_every_method_and_lr_on_the_first_seed_and_largest_size():
    plan = Plan(METHODS, lrs=[0.1, 0.01], seeds=[3, 1], tasks=('a', 'b'),
                data_sizes=(32, 128), pretrain_seeds=(2, 0))
    assert plan.lrs == (0.01, 0.1)
    assert plan.grid_keys() == [
        RunKey(task, 128, 2, m, lr, 3) for task in ('a', 'b')
        for m in ('lin', 'ada') for lr in (0.01, 0.1)]


def test_final_runs_take_each_protocols_lr_once_and_reuse_the_grid():
    plan = Plan(METHODS, lrs=[0.01, 0.1], seeds=[0, 1], data_sizes=(8, 16))
    # shared 0.01; 'ada' tuned to 0.1, 'lin' tuned to the shared lr
    choices = {'data': dict(shared=0.01, tuned=dict(lin=0.01, ada=0.1))}
    keys = plan.final_keys(choices)
    assert len(keys) == len(set(keys))
    expected = {RunKey('data', n, 0, m, lr, s) for n in (8, 16)
                for m, lrs in (('lin', [0.01]), ('ada', [0.01, 0.1]))
                for lr in lrs for s in (0, 1)}
    assert set(keys) == expected - set(plan.grid_keys())
    assert RunKey('data', 16, 0, 'ada', 0.1, 0) not in keys  # a grid run
    assert RunKey('data', 8, 0, 'ada', 0.1, 0) in keys  # another size


def test_one_protocol_runs_only_its_lrs():
    plan = Plan(METHODS, lrs=[0.01, 0.1], seeds=[0, 1],
                protocols=('tuned', ))
    choices = {'data': dict(shared=0.01, tuned=dict(lin=0.1, ada=0.1))}
    assert {k.lr for k in plan.final_keys(choices)} == {0.1}


def test_folders_and_labels_of_each_size_unit():
    key = RunKey('dynamics', 128, 0, 'lin', 0.002, 1)
    demo = Plan(METHODS, [0.002], [0], tasks=('dynamics', ),
                data_sizes=(128, ), pretrain_seeds=(0, ))
    assert demo.stage_dir(key) == 'runs/dynamics_n128_pre0/lin_lr0.002_seed1'
    assert demo.size_label(128) == '128 training clips'
    shots = Plan(METHODS, [0.002], [0], tasks=('dynamics', ),
                 data_sizes=(4, 16), size_unit='shots')
    assert shots.stage_dir(key) == 'runs/dynamics_k128/lin_lr0.002_seed1'
    own = Plan(METHODS, [0.002], [0])
    assert own.grid_size is None
    assert own.stage_dir(RunKey('data', None, 0, 'lin', 0.002, 0)) == \
        'runs/data_all/lin_lr0.002_seed0'
    fraction = Plan(METHODS, [0.002], [0], data_sizes=(0.1, 0.5),
                    size_unit='fraction')
    assert fraction.size_tag(0.1) == 'f0.1' and fraction.grid_size == 0.5


@pytest.mark.parametrize('kwargs, message', [
    (dict(lrs=[0.1, 0.1]), 'lrs: [0.1, 0.1]'),
    (dict(lrs=[0.0]), 'lrs: [0.0]; every lr must be > 0'),
    (dict(seeds=[-1]), 'seeds: [-1]; every value must be >= 0'),
    (dict(protocols=('best', )), "protocols: ['best']; valid: ['shared', "
     "'tuned']"),
    (dict(data_sizes=(None, 4)), 'cannot be mixed'),
    (dict(size_unit='clip'), "size_unit='clip'; valid"),
])
def test_bad_plans_name_the_setting(kwargs, message):
    args = dict(methods=METHODS, lrs=[0.1], seeds=[0])
    with pytest.raises(ValueError) as exc:
        Plan(**dict(args, **kwargs))
    assert message in str(exc.value)


def test_methods_need_distinct_keys():
    with pytest.raises(ValueError, match='methods'):
        Plan(METHODS + (Method('lin', 'again', 'x.py'), ), [0.1], [0])


def test_progress_says_what_is_done_and_missing():
    waiting = Progress(total=20, missing=['a', 'b'], choices={},
                       pending='2 of them queued')
    assert waiting.status() == ('not complete: 18 of 20 stages done; 2 '
                                'missing: a, b. 2 of them queued')
    assert not waiting.complete
    grid = Progress(total=4, missing=['x'])
    assert 'the seeds follow once the lr grid is done' in grid.status()
    done = Progress(total=4, choices={})
    assert done.complete and done.status() == '4 of 4 stages done'
