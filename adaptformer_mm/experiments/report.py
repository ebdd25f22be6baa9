"""The comparison's bookkeeping and its report: choose learning rates on the
val split under the two protocols, aggregate test top-1 over seeds, and write
the Table-1 style report and its figures. Pure Python over run records (the
stages that make them are :mod:`.stages`), so it is tested on its own.

A run record is a dict with at least ``task``, ``size`` (training-set size,
None for the config's own), ``pretrain_seed``, ``method``, ``lr``, ``seed``,
``val`` and ``test`` (top-1 in [0, 1]) and ``seconds``.

Protocols:

``shared``  the papers' protocol (AdaptFormer Table 1): one recipe for every
            method. The one lr is chosen once on val, as the grid value with
            the highest val top-1 averaged over all methods.
``tuned``   the VPT paper's protocol: each method gets the grid lr with its
            own highest val top-1.

Ties go to the smaller lr (the grid is searched in ascending order).
"""
import json
import math
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from adaptformer_mm.analysis.plotting import pyplot, save_figure

PROTOCOLS = {
    'shared': "papers' protocol: one lr for all methods, chosen on val",
    'tuned': "VPT paper's protocol: each method's lr chosen on val",
}

def choose_lrs(grid_runs: Sequence[Dict], methods: Sequence[str],
               lrs: Sequence[float]) -> Dict:
    """Choose the lr of each protocol from the grid runs' val top-1.

    Args:
        grid_runs: one run per (method, lr) of ``methods`` x ``lrs``.

    Returns:
        ``dict(shared=lr, tuned={method: lr}, val={method: {lr: top1}},
        mean_val={lr: mean top-1 over methods})``.
    """
    val: Dict[str, Dict[float, float]] = {m: {} for m in methods}
    for run in grid_runs:
        if run['method'] in val:
            val[run['method']][run['lr']] = run['val']
    missing = [(m, lr) for m in methods for lr in lrs if lr not in val[m]]
    if missing:
        raise ValueError(f'grid runs missing for (method, lr): {missing}')
    ordered = sorted(lrs)
    mean_val = {lr: sum(val[m][lr] for m in methods) / len(methods)
                for lr in ordered}
    return dict(
        shared=_argmax(ordered, mean_val.__getitem__),
        tuned={m: _argmax(ordered, val[m].__getitem__) for m in methods},
        val=val, mean_val=mean_val)


def _argmax(ordered: Sequence[float], score) -> float:
    best = ordered[0]
    for lr in ordered[1:]:
        if score(lr) > score(best):  # strict: ties keep the smaller lr
            best = lr
    return best


def protocol_lr(choice: Dict, protocol: str, method: str) -> float:
    if protocol == 'shared':
        return choice['shared']
    if protocol == 'tuned':
        return choice['tuned'][method]
    raise ValueError(f'protocol={protocol!r}; valid: {sorted(PROTOCOLS)}')


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (nan for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float('nan')
    return mean, math.sqrt(sum((v - mean)**2 for v in values) / (n - 1))


def aggregate(runs: Iterable[Dict], choices: Dict[str, Dict],
              protocols: Sequence[str], methods: Sequence[str]) -> List[Dict]:
    """One row per (task, size, protocol, method): test top-1 over seeds.

    Args:
        choices: ``{task: choose_lrs(...)}``.

    Returns:
        Rows with ``task, size, protocol, method, lr, n, mean, std`` (top-1
        in %), ``seconds`` (mean per run) and ``tests`` (every run's %).
    """
    runs = list(runs)
    rows = []
    keys = sorted({(r['task'], r['size']) for r in runs})
    for task, size in keys:
        for protocol in protocols:
            for method in methods:
                lr = protocol_lr(choices[task], protocol, method)
                picked = [r for r in runs if r['task'] == task and
                          r['size'] == size and r['method'] == method and
                          r['lr'] == lr]
                if not picked:
                    continue
                picked.sort(key=lambda r: (r['pretrain_seed'], r['seed']))
                tests = [100 * r['test'] for r in picked]
                mean, std = mean_std(tests)
                rows.append(dict(
                    task=task, size=size, protocol=protocol, method=method,
                    lr=lr, n=len(tests), mean=mean, std=std, tests=tests,
                    seconds=sum(r['seconds'] for r in picked) / len(picked)))
    return rows


def _pm(mean: float, std: float) -> str:
    return f'{mean:.1f} ± {std:.1f}' if not math.isnan(std) else f'{mean:.1f}'


def format_table(rows: Sequence[Dict], labels: Dict[str, str],
                 params: Dict[str, Dict],
                 paper: Optional[Dict[str, Tuple[float, ...]]] = None,
                 paper_columns: Sequence[str] = ()) -> str:
    """Table-1 style markdown: one line per (protocol, method).

    Args:
        labels: display name of each method key.
        params: ``{method: dict(trainable=N, total=M)}``.
        paper: published top-1 of some methods, one value per column of
            ``paper_columns`` (e.g. ``'Paper SSv2'``), shown beside the rows
            for reference; ``–`` for a method without one.
    """
    columns = list(paper_columns) if paper else []
    lines = [
        '| Method | Protocol | Tunable params | Tunable % | Top-1 (test, '
        'mean ± std) | Runs | lr | Time / run (s) |'
        + ''.join(f' {c} |' for c in columns),
        '|---|---|---:|---:|---:|---:|---:|---:|' + '---:|' * len(columns),
    ]
    for r in rows:
        p = params[r['method']]
        published = (paper or {}).get(r['method'])
        extra = ''.join(
            f' {v:.1f} |' for v in published) if published else \
            ' – |' * len(columns)
        lines.append(
            f'| {labels[r["method"]]} | {r["protocol"]} | '
            f'{p["trainable"]:,} | {100 * p["trainable"] / p["total"]:.2f} | '
            f'{_pm(r["mean"], r["std"])} | {r["n"]} | {r["lr"]:g} | '
            f'{_seconds(r["seconds"])} |' + extra)
    return '\n'.join(lines)


def _seconds(seconds: float) -> str:
    return '–' if math.isnan(seconds) else f'{seconds:.0f}'


def format_grid(choice: Dict, labels: Dict[str, str]) -> str:
    """Val top-1 (%) of every grid run, with the choices marked."""
    lrs = sorted(choice['mean_val'])
    lines = ['| Method | ' + ' | '.join(f'lr {lr:g}' for lr in lrs) +
             ' | tuned lr |', '|---|' + '---:|' * (len(lrs) + 1)]
    for m, by_lr in choice['val'].items():
        lines.append(f'| {labels[m]} | ' + ' | '.join(
            f'{100 * by_lr[lr]:.1f}' for lr in lrs) +
            f' | {choice["tuned"][m]:g} |')
    lines.append('| mean over methods | ' + ' | '.join(
        f'{100 * choice["mean_val"][lr]:.1f}' for lr in lrs) +
        f' | shared: {choice["shared"]:g} |')
    return '\n'.join(lines)


def plot_accuracy_vs_params(rows: Sequence[Dict], labels: Dict[str, str],
                            params: Dict[str, Dict], path: str,
                            size_label: Callable = '{} training clips'.format
                            ) -> None:
    """Top-1 (mean, error bar = std) against tunable parameters, one panel
    per task at its largest data size, one marker per protocol.

    Args:
        size_label: a data size as the panel titles say it.
    """
    plt, fig, panels = _task_panels(rows)
    markers = dict(shared='o', tuned='s')
    for ax, task in panels:
        sizes = {r['size'] for r in rows if r['task'] == task}
        size = None if sizes == {None} else max(sizes)
        for protocol in markers:
            picked = [r for r in rows if r['task'] == task and
                      r['size'] == size and r['protocol'] == protocol]
            for r in picked:
                x = params[r['method']]['trainable']
                ax.errorbar(x, r['mean'], yerr=_yerr(r['std']),
                            fmt=markers[protocol], capsize=4,
                            color=_colour(r['method'], labels),
                            label=f'{labels[r["method"]]} ({protocol})')
        ax.set_xscale('log')
        _finish_panel(ax, 'tunable parameters (log)',
                      f'{task}, {size_label(size)} '
                      '(o: shared lr, s: tuned lr)')
    save_figure(plt, fig, path)


def plot_accuracy_vs_data(rows: Sequence[Dict], labels: Dict[str, str],
                          path: str, xlabel: str = 'training clips'):
    """Top-1 against the training-set size, one line per method and
    protocol (solid: shared lr, dashed: tuned lr), one panel per task.

    The x axis (log) is ticked only at the sizes run, labelled with the
    sizes themselves (``32``, ``128``); each line's points are shifted by a
    few percent of a size, the lines side by side, so that equal rows (a
    method whose two protocols chose the same lr) and their error bars stay
    visible. The legend lies beside the panels, clear of every point.

    Returns:
        The (closed) figure, to read its axes back.
    """
    from matplotlib.ticker import NullLocator
    plt, fig, panels = _task_panels(rows, legend_beside=True)
    styles = dict(shared='-', tuned='--')
    lines = [(p, m) for p in styles for m in labels]
    for ax, task in panels:
        sizes = sorted({r['size'] for r in rows if r['task'] == task})
        for i, (protocol, method) in enumerate(lines):
            picked = sorted((r for r in rows if r['task'] == task and
                             r['protocol'] == protocol and
                             r['method'] == method),
                            key=lambda r: r['size'])
            if not picked:
                continue
            shift = 2**(0.012 * (i - (len(lines) - 1) / 2))
            ax.errorbar([r['size'] * shift for r in picked],
                        [r['mean'] for r in picked],
                        yerr=[_yerr(r['std']) for r in picked],
                        linestyle=styles[protocol], marker='o', capsize=3,
                        color=_colour(method, labels),
                        label=f'{labels[method]} ({protocol})')
        ax.set_xscale('log')
        ax.set_xticks(sizes, [f'{s:g}' for s in sizes])
        ax.xaxis.set_minor_locator(NullLocator())
        _finish_panel(ax, f'{xlabel} (log)',
                      f'{task}: accuracy vs downstream data size',
                      legend_beside=True)
    save_figure(plt, fig, path)
    return fig


def _task_panels(rows, legend_beside: bool = False):
    """pyplot, the figure and (axes, task) for one panel per task."""
    plt = pyplot()
    tasks = sorted({r['task'] for r in rows})
    width = 6 + (2.5 if legend_beside else 0)
    fig, axes = plt.subplots(1, len(tasks),
                             figsize=(width * len(tasks), 4.4),
                             squeeze=False)
    return plt, fig, list(zip(axes[0], tasks))


def _finish_panel(ax, xlabel: str, title: str,
                  legend_beside: bool = False) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel('top-1 on the test split (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend_beside:  # clear of the points, whatever they are
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.02, 1.0))
    else:
        ax.legend(fontsize=7)


def _yerr(std: float) -> float:
    return 0.0 if math.isnan(std) else std


def _colour(method: str, labels: Dict[str, str]) -> str:
    return f'C{list(labels).index(method)}'


# ------------------------------------------------------------------ report
def write_report(work_dir: str, plan, runs: Sequence[Dict],
                 choices: Dict[str, Dict], *, title: str,
                 settings: Dict, seconds: float,
                 sections: Sequence[str] = (), extra: Optional[Dict] = None,
                 paper: Optional[Dict[str, Tuple[float, ...]]] = None,
                 paper_columns: Sequence[str] = (), paper_note: str = '',
                 more_figures: Sequence[str] = (),
                 status: str = '') -> Dict:
    """Write ``results.md``, ``results.json`` and the figures of a plan's
    runs into ``work_dir``; print the tables. Returns what
    ``results.json`` holds.

    Args:
        plan: the :class:`~.plan.Plan` the runs belong to.
        choices: ``{task: choose_lrs(...)}``.
        title: the report's heading.
        settings: what the report records of the run (``results.json``).
        sections: paragraphs after the settings (e.g. the pre-training).
        extra: more entries of ``results.json``.
        paper, paper_columns: published figures shown beside the rows
            (:func:`format_table`); paper_note: where they come from.
        more_figures: figures the caller wrote into ``work_dir`` (named in
            the printed summary).
        status: a line saying the runs are not complete (a partial report),
            or ''.
    """
    rows = aggregate(runs, choices, plan.protocols, plan.labels())
    params = {}
    for r in runs:
        params.setdefault(r['method'], dict(trainable=r['trainable'],
                                            total=r['total']))
    labels = plan.labels()
    multi_pre = plan.pretrain_seeds is not None and len(
        plan.pretrain_seeds) > 1
    head = [f'# {title}\n'] + ([f'**{status}**\n'] if status else []) + \
        list(sections) + [
            f'Settings: {json.dumps(settings)}\n',
            'Top-1 on the test split, mean ± std over the transfer seeds'
            + (' and pre-training seeds' if multi_pre else '')
            + '; lr chosen on the val split'
            + (f' (at {plan.size_label(plan.grid_size)}; the smaller sizes '
               'use the lrs chosen there).' if len(plan.data_sizes) > 1
               else '.')
            + (f' Paper columns: {paper_note}, for reference.'
               if paper else '') + '\n']
    tables = []
    for task in plan.tasks:
        sizes = sorted({r['size'] for r in rows if r['task'] == task},
                       key=lambda s: -1 if s is None else s, reverse=True)
        for size in sizes:
            picked = [r for r in rows if r['task'] == task and
                      r['size'] == size]
            table = format_table(picked, labels, params, paper,
                                 paper_columns)
            tables.append(f'## {task}, {plan.size_label(size)}\n\n'
                          f'{table}\n')
        tables.append(f'lr grid on val ({task}, '
                      f'{plan.size_label(plan.grid_size)}, seed '
                      f'{plan.seeds[0]}), val top-1 %:\n\n'
                      f'{format_grid(choices[task], labels)}\n')
    text = '\n'.join(head + tables) + (
        f'\nTotal {seconds:.0f} s wall clock.\n')
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text)
    result = dict(
        settings=settings, seconds=seconds, complete=not status,
        choices={t: dict(c, val={m: {str(lr): v for lr, v in by.items()}
                                 for m, by in c['val'].items()},
                         mean_val={str(lr): v
                                   for lr, v in c['mean_val'].items()})
                 for t, c in choices.items()},
        rows=rows, params=params, runs=list(runs), **(extra or {}))
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    figures = []
    if rows:
        plot_accuracy_vs_params(rows, labels, params,
                                osp.join(work_dir, 'accuracy_vs_params.png'),
                                plan.size_label)
        figures.append('accuracy_vs_params.png')
    figures += list(more_figures)
    if len(plan.data_sizes) > 1 and rows:
        plot_accuracy_vs_data(rows, labels,
                              osp.join(work_dir, 'accuracy_vs_data.png'),
                              xlabel=plan.size_axis)
        figures.append('accuracy_vs_data.png')
    print('\n' + '\n'.join(tables) + f'\ntotal {seconds:.0f} s; report: '
          f'{work_dir}/results.md, results.json, {", ".join(figures)}',
          flush=True)
    return result
