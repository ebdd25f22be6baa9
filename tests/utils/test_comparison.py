"""The comparison's bookkeeping: lr choice per protocol, seeds aggregated,
the table and the figures (adaptformer_mm/utils/comparison.py)."""
import math

import pytest

from adaptformer_mm.utils.comparison import (aggregate, choose_lrs,
                                             format_grid, format_table,
                                             mean_std,
                                             plot_accuracy_vs_data,
                                             plot_accuracy_vs_params)

LABELS = {'lin': 'linear', 'ada': 'adapter', 'full': 'full'}
PARAMS = {'lin': dict(trainable=10, total=1000),
          'ada': dict(trainable=50, total=1040),
          'full': dict(trainable=1000, total=1000)}
# val top-1 by (method, lr): the mean over methods is best at 0.01 (0.6),
# while 'full' alone is best at 0.001.
VAL = {('lin', 0.001): 0.3, ('lin', 0.01): 0.6, ('lin', 0.1): 0.5,
       ('ada', 0.001): 0.4, ('ada', 0.01): 0.7, ('ada', 0.1): 0.7,
       ('full', 0.001): 0.8, ('full', 0.01): 0.5, ('full', 0.1): 0.2}


def run(method, lr, seed=0, test=0.5, size=128, task='t', pretrain_seed=0):
    return dict(task=task, size=size, pretrain_seed=pretrain_seed,
                method=method, lr=lr, seed=seed,
                val=VAL.get((method, lr), 0.0), test=test, seconds=2.0)


def test_choose_lrs_per_protocol():
    grid = [run(m, lr) for m, lr in VAL]
    choice = choose_lrs(grid, list(LABELS), [0.1, 0.001, 0.01])
    assert choice['mean_val'][0.01] == pytest.approx(0.6)
    assert choice['shared'] == 0.01
    # 'ada' ties at 0.01 and 0.1: the smaller lr wins
    assert choice['tuned'] == {'lin': 0.01, 'ada': 0.01, 'full': 0.001}


def test_choose_lrs_names_missing_grid_runs():
    grid = [run(m, lr) for m, lr in VAL if (m, lr) != ('ada', 0.1)]
    with pytest.raises(ValueError, match=r"\('ada', 0.1\)"):
        choose_lrs(grid, list(LABELS), [0.001, 0.01, 0.1])


def test_aggregate_mean_and_sample_std_of_the_chosen_lr():
    choice = dict(shared=0.01, tuned={'lin': 0.01, 'ada': 0.01,
                                      'full': 0.001})
    runs = [run('full', 0.001, seed=s, test=t)
            for s, t in enumerate((0.5, 0.6, 0.7))]
    runs += [run('full', 0.01, seed=s, test=0.1) for s in range(3)]
    rows = aggregate(runs, {'t': choice}, ['shared', 'tuned'], ['full'])
    shared, tuned = rows
    assert (shared['protocol'], shared['lr'], shared['n']) == \
        ('shared', 0.01, 3)
    assert shared['mean'] == pytest.approx(10.0) and shared['std'] == 0
    assert tuned['lr'] == 0.001 and tuned['tests'] == pytest.approx(
        [50.0, 60.0, 70.0])
    assert tuned['mean'] == pytest.approx(60.0)
    assert tuned['std'] == pytest.approx(10.0)  # sample std (n - 1)
    assert math.isnan(mean_std([42.0])[1])


def test_table_and_grid_text():
    choice = choose_lrs([run(m, lr) for m, lr in VAL], list(LABELS),
                        [0.001, 0.01, 0.1])
    runs = [run(m, choice['tuned'][m], seed=s, test=0.25 * (s + 1))
            for m in LABELS for s in range(2)]
    rows = aggregate(runs, {'t': choice}, ['tuned'], list(LABELS))
    table = format_table(rows, LABELS, PARAMS)
    assert '| adapter | tuned | 50 | 4.81 | 37.5 ± 17.7 | 2 | 0.01 |' in table
    assert '| full | tuned | 1,000 | 100.00 |' in table
    grid = format_grid(choice, LABELS)
    assert '| full | 80.0 | 50.0 | 20.0 | 0.001 |' in grid
    assert '| mean over methods | 50.0 | 60.0 | 46.7 | shared: 0.01 |' in grid


def test_figures_are_written(tmp_path):
    choice = dict(shared=0.01, tuned={m: 0.01 for m in LABELS})
    runs = [run(m, 0.01, seed=s, size=n, test=0.1 * s + n / 1000)
            for m in LABELS for s in range(2) for n in (32, 128)]
    rows = aggregate(runs, {'t': choice}, ['shared', 'tuned'], list(LABELS))
    for plot, args in ((plot_accuracy_vs_params, (rows, LABELS, PARAMS)),
                       (plot_accuracy_vs_data, (rows, LABELS))):
        path = tmp_path / f'{plot.__name__}.png'
        plot(*args, str(path))
        data = path.read_bytes()
        assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 10_000
