"""Compare methods given as config files (``tools/compare.py``).

The methods are the configs (a user's own inherited configs, or e.g. the
four HMDB51 recipes side by side), checked against each other before any
stage starts (:mod:`.configs`). Every run is the method's config with the
run's lr (``optim_wrapper.optimizer.lr``), seed (``randomness.seed``) and,
with data sizes, a class-balanced training subset; the plan, its stages and
its report are :mod:`.plan`, :mod:`.stages` and :mod:`.report`, run
re-entrantly in the work dir (:mod:`.harness`).
"""
import os.path as osp
import time
from typing import Callable, Dict, Optional, Sequence

from .configs import (check_agree, check_config, data_size_options,
                      method_keys, parse_data_sizes, read_config, task_name)
from .harness import Comparison
from .plan import ComparisonError, Method, Plan, RunKey
from .report import PROTOCOLS, write_report
from .launchers import build_runner
from .stages import Stage


def compare(configs: Sequence[str], lrs: Sequence[float],
            seeds: Sequence[int], work_dir: str,
            protocols: Sequence[str] = tuple(sorted(PROTOCOLS)),
            data_sizes: Optional[Sequence[str]] = None,
            launcher: str = 'none', gpus: int = 1,
            partition: Optional[str] = None, jobs: Optional[int] = None,
            threads: int = 1, log: Callable[[str], None] = print) -> Dict:
    """Run (or continue) the comparison of ``configs`` in ``work_dir``.

    Args:
        configs: one config file per method.
        lrs: the lr grid; seeds: transfer seeds (the first runs the grid).
        protocols: ``shared`` and/or ``tuned``.
        data_sizes: ``--data-sizes`` as given
            (:func:`.configs.parse_data_sizes`); None: the configs' own
            training set.
        launcher, gpus, partition, jobs, threads: how stages run
            (:func:`.stages.build_runner`).

    Returns:
        What ``results.json`` holds once the lr grid is done (``complete``
        False while seeds are missing), else ``dict(complete=False,
        status=...)``. Bad input raises :class:`~.plan.ComparisonError`
        before any stage starts.
    """
    start = time.perf_counter()
    paths = [osp.abspath(c) for c in configs]
    cfgs = [read_config(p) for p in paths]
    for path, cfg in zip(paths, cfgs):
        check_config(path, cfg)
    check_agree(paths, cfgs)
    keys = method_keys(paths)
    sizes, unit = parse_data_sizes(data_sizes) if data_sizes else (
        (None, ), 'shots')
    task = task_name(paths, cfgs)
    try:
        plan = Plan(tuple(Method(k, k, p) for k, p in zip(keys, paths)),
                    lrs=lrs, seeds=seeds, protocols=protocols,
                    tasks=(task, ), data_sizes=sizes, size_unit=unit)
    except ValueError as e:
        raise ComparisonError(f'--{e}') from None
    root = osp.abspath(work_dir)
    runner = build_runner(launcher, root, jobs, threads, gpus, partition)
    by_key = dict(zip(keys, zip(paths, cfgs)))

    def make_stage(key: RunKey) -> Stage:
        path, cfg = by_key[key.method]
        options = {'optim_wrapper.optimizer.lr': key.lr,
                   'randomness.seed': key.seed,
                   **data_size_options(cfg, key.size)}
        info = plan.run_info(key)
        name = key.name if key.size is None else \
            f'{plan.size_tag(key.size)} {key.name}'
        return Stage(name, path,
                     osp.join(root, info['work_dir']), options, info,
                     threads, note='the settings of tools/compare.py')

    progress = Comparison(plan, root, make_stage, runner, log=log).run()
    status = progress.status()
    if progress.choices is None:
        log(f'\n{status}')
        return dict(complete=False, status=status, runs=progress.runs)
    import torch
    result = write_report(
        root, plan, progress.runs, progress.choices,
        title=f'{len(keys)} methods on {task}',
        settings=dict(plan.settings(), launcher=launcher, jobs=jobs,
                      threads=threads, gpus=gpus, torch=torch.__version__),
        seconds=time.perf_counter() - start,
        status='' if progress.complete else status)
    log(f'\n{status}')
    return result
