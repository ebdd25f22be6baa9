"""The built-in comparison's bookkeeping: choose learning rates on the val
split under the two protocols, aggregate test top-1 over seeds, and write
the Table-1 style report and its figures. Pure Python over run records (the
stages themselves run in ``tools/run_demo.py``), so it is tested on its own.

A run record is a dict with at least ``task``, ``size`` (training clips),
``pretrain_seed``, ``method``, ``lr``, ``seed``, ``val`` and ``test``
(top-1 in [0, 1]) and ``seconds``.

Protocols:

``shared``  the papers' protocol (AdaptFormer Table 1): one recipe for every
            method. The one lr is chosen once on val, as the grid value with
            the highest val top-1 averaged over all methods.
``tuned``   the VPT paper's protocol: each method gets the grid lr with its
            own highest val top-1.

Ties go to the smaller lr (the grid is searched in ascending order).
"""
import math
from typing import Dict, Iterable, List, Sequence, Tuple

from .plotting import pyplot, save_figure

PROTOCOLS = {
    'shared': "papers' protocol: one lr for all methods, chosen on val",
    'tuned': "VPT paper's protocol: each method's lr chosen on val",
}

# AdaptFormer paper, Table 1 (ViT-B/16, VideoMAE K400 self-supervised):
# top-1 on SSv2 and HMDB51, beside the demo's rows for reference.
PAPER_TOP1 = {
    'linear-probe': (29.23, 49.84),
    'vpt-deep-4': (43.73, 52.67),
    'adaptformer-8': (59.02, 55.69),
    'full-finetune': (53.97, 46.41),
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
                 params: Dict[str, Dict]) -> str:
    """Table-1 style markdown: one line per (protocol, method).

    Args:
        labels: display name of each method key.
        params: ``{method: dict(trainable=N, total=M)}``.
    """
    lines = [
        '| Method | Protocol | Tunable params | Tunable % | Top-1 (test, '
        'mean ± std) | Runs | lr | Time / run (s) | Paper SSv2 | '
        'Paper HMDB51 |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for r in rows:
        p = params[r['method']]
        # The paper reports no video figure for the optional baselines.
        paper = PAPER_TOP1.get(r['method'])
        ssv2, hmdb = [f'{v:.1f}' for v in paper] if paper else ['–', '–']
        lines.append(
            f'| {labels[r["method"]]} | {r["protocol"]} | '
            f'{p["trainable"]:,} | {100 * p["trainable"] / p["total"]:.2f} | '
            f'{_pm(r["mean"], r["std"])} | {r["n"]} | {r["lr"]:g} | '
            f'{r["seconds"]:.0f} | {ssv2} | {hmdb} |')
    return '\n'.join(lines)


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
                            params: Dict[str, Dict], path: str) -> None:
    """Top-1 (mean, error bar = std) against tunable parameters, one panel
    per task at its largest data size, one marker per protocol."""
    plt, fig, panels = _task_panels(rows)
    markers = dict(shared='o', tuned='s')
    for ax, task in panels:
        size = max(r['size'] for r in rows if r['task'] == task)
        for protocol in markers:
            picked = [r for r in rows if r['task'] == task and
                      r['size'] == size and r['protocol'] == protocol]
            for r in picked:
                x = params[r['method']]['trainable']
                ax.errorbar(x, r['mean'], yerr=_yerr(r['std']),
                            fmt=markers[protocol], capsize=4,
                            color=_colour(r['method'], labels),
                            label=f'{labels[r["method"]]} ({protocol})')
        _finish_panel(ax, 'tunable parameters (log)',
                      f'{task}, {size} training clips '
                      '(o: shared lr, s: tuned lr)')
    save_figure(plt, fig, path)


def plot_accuracy_vs_data(rows: Sequence[Dict], labels: Dict[str, str],
                          path: str) -> None:
    """Top-1 against the number of training clips, one line per method and
    protocol (solid: shared lr, dashed: tuned lr), one panel per task."""
    plt, fig, panels = _task_panels(rows)
    styles = dict(shared='-', tuned='--')
    for ax, task in panels:
        for protocol, style in styles.items():
            for method in labels:
                picked = sorted((r for r in rows if r['task'] == task and
                                 r['protocol'] == protocol and
                                 r['method'] == method),
                                key=lambda r: r['size'])
                if not picked:
                    continue
                ax.errorbar([r['size'] for r in picked],
                            [r['mean'] for r in picked],
                            yerr=[_yerr(r['std']) for r in picked],
                            linestyle=style, marker='o', capsize=3,
                            color=_colour(method, labels),
                            label=f'{labels[method]} ({protocol})')
        _finish_panel(ax, 'training clips (log)',
                      f'{task}: accuracy vs downstream data size')
    save_figure(plt, fig, path)


def _task_panels(rows):
    """pyplot, the figure and (axes, task) for one panel per task."""
    plt = pyplot()
    tasks = sorted({r['task'] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.4),
                             squeeze=False)
    return plt, fig, list(zip(axes[0], tasks))


def _finish_panel(ax, xlabel: str, title: str) -> None:
    ax.set_xscale('log')
    ax.set_xlabel(xlabel)
    ax.set_ylabel('top-1 on the test split (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _yerr(std: float) -> float:
    return 0.0 if math.isnan(std) else std


def _colour(method: str, labels: Dict[str, str]) -> str:
    return f'C{list(labels).index(method)}'
