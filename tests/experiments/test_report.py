"""The comparison's bookkeeping: lr choice per protocol, seeds aggregated,
the table, the figures and the report's files
(adaptformer_mm/experiments/report.py)."""
import json
import math

import pytest

from adaptformer_mm.experiments import Method, Plan
from adaptformer_mm.experiments.report import (aggregate, choose_lrs,
                                               format_grid, format_table,
                                               mean_std,
                                               plot_accuracy_vs_data,
                                               plot_accuracy_vs_params,
                                               write_report)

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


def test_accuracy_vs_data_is_ticked_at_the_sizes_run(tmp_path):
    """Ticks at 32 and 128 labelled '32' and '128' (no log-scale labels
    such as 3x10^1, no minor ticks), the axis named, every line's points
    beside their size and apart from the others', the legend clear of the
    axes (hence of every point)."""
    choice = dict(shared=0.01, tuned={m: 0.01 for m in LABELS})
    runs = [run(m, 0.01, seed=s, size=n, test=0.5) for m in LABELS
            for s in range(2) for n in (32, 128)]
    rows = aggregate(runs, {'t': choice}, ['shared', 'tuned'], list(LABELS))
    fig = plot_accuracy_vs_data(rows, LABELS, str(tmp_path / 'data.png'),
                                xlabel='training clips')
    ax, = fig.axes
    assert list(ax.get_xticks()) == [32, 128]
    assert [t.get_text() for t in ax.get_xticklabels()] == ['32', '128']
    assert list(ax.get_xticks(minor=True)) == []
    assert ax.get_xlabel() == 'training clips (log)'
    xs = [tuple(c.lines[0].get_xdata()) for c in ax.containers]
    assert len(xs) == 6 and len(set(xs)) == 6  # equal rows stay apart
    for x32, x128 in xs:
        assert 0.95 < x32 / 32 < 1.05 and 0.95 < x128 / 128 < 1.05
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure is closed
    assert ax.get_legend().get_window_extent(renderer).x0 > \
        ax.get_window_extent(renderer).x1


def test_write_report_files_and_a_partial_status(tmp_path, capsys):
    plan = Plan(tuple(Method(k, v, f'{k}.py') for k, v in LABELS.items()),
                lrs=[0.001, 0.01, 0.1], seeds=[0, 1], tasks=('t', ),
                data_sizes=(32, 128),
                size_unit='shots')
    choice = choose_lrs([run(m, lr) for m, lr in VAL], list(LABELS),
                        plan.lrs)
    runs = [dict(run(m, choice['tuned'][m], seed=s, size=n), **PARAMS[m])
            for m in LABELS for s in (0, 1) for n in (32, 128)]
    result = write_report(str(tmp_path), plan, runs, {'t': choice},
                          title='Three methods', settings=dict(x=1),
                          seconds=5.0, sections=['Upstream: none.\n'],
                          status='not complete: 12 of 14 stages done')
    md = (tmp_path / 'results.md').read_text()
    assert md.startswith('# Three methods\n\n**not complete: 12 of 14 '
                         'stages done**\n\nUpstream: none.\n')
    assert md.index('## t, 128 training samples per class') < \
        md.index('## t, 32 training samples per class')
    assert 'lr chosen on the val split (at 128 training samples per class; ' \
        'the smaller sizes use the lrs chosen there).' in md
    assert '| adapter | tuned | 50 | 4.81 |' in md and 'Paper' not in md
    assert 'lr grid on val (t, 128 training samples per class, seed 0)' in md
    saved = json.load(open(tmp_path / 'results.json'))
    assert saved['complete'] is False and saved['settings'] == dict(x=1)
    assert saved['choices']['t']['tuned'] == choice['tuned']
    # 2 sizes x 2 protocols x 3 methods, less 'full' at the shared lr, of
    # which no run is done yet
    assert len(saved['runs']) == 12 and len(saved['rows']) == 10
    assert ('shared', 'full') not in {(r['protocol'], r['method'])
                                      for r in saved['rows']}
    for name in ('accuracy_vs_params.png', 'accuracy_vs_data.png'):
        assert (tmp_path / name).read_bytes()[:4] == b'\x89PNG'
    assert 'accuracy_vs_data.png' in capsys.readouterr().out
    assert result['params']['full'] == PARAMS['full']


def test_paper_columns_beside_the_rows():
    choice = dict(shared=0.01, tuned={m: 0.01 for m in LABELS})
    rows = aggregate([run(m, 0.01) for m in LABELS], {'t': choice},
                     ['shared'], list(LABELS))
    table = format_table(rows, LABELS, PARAMS, paper={'ada': (59.02, 55.69)},
                         paper_columns=('Paper A', 'Paper B'))
    assert table.splitlines()[0].endswith('| Paper A | Paper B |')
    assert '| adapter | shared | 50 | 4.81 | 50.0 | 1 | 0.01 | 2 | 59.0 | ' \
        '55.7 |' in table
    assert '| linear | shared | 10 | 1.00 | 50.0 | 1 | 0.01 | 2 | – | – |' \
        in table
