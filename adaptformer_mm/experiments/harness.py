"""Run a :class:`~.plan.Plan` in a work dir, re-entrantly.

``plan.json`` in the work dir records the plan (methods, their configs and
the hash of each merged config, lrs, seeds, protocols, data sizes, tasks and
the caller's own settings). Running again in the same work dir:

* with the same plan, reuses every finished stage (:mod:`.stages`: verified
  by the hash of its merged config), runs what is missing (``--resume`` where
  a stage left a checkpoint), leaves alone what an earlier Slurm submission
  is still running, and reports what is done and what is missing;
* with another plan (a method, config, lr, seed or setting that differs from
  ``plan.json``), stops with :class:`PlanChanged`, naming the work dir and
  every differing setting, before any stage starts;
* a stage whose merged config changed since it ran (a config edited in
  place) is refused the same way (:class:`~.stages.StageChanged`), naming
  its folder; its results are not overwritten.

The launcher, ``--jobs`` and ``--threads`` are not part of the plan: a
comparison started on a cluster may be finished on one machine. (The thread
count changes the last digits of a run; each stage's ``attempts.jsonl``
records its own.)
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional

from .plan import ComparisonError, Plan, Progress, RunKey
from .report import choose_lrs
from .launchers import Runner
from .stages import (STAGE_FILE, Stage, StageChanged, config_hash,
                     merged_config, run_stages)

PLAN_FILE = 'plan.json'


class PlanChanged(ComparisonError):
    """The work dir holds another plan."""


_UNSET = '(not set)'


def plan_differences(recorded, current, prefix: str = '') -> List[str]:
    """``key: X there, Y here`` for every setting that differs (a dict whose
    keys differ, e.g. the methods, as its two lists of keys)."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        if prefix and set(recorded) != set(current):
            return [f'{prefix}: {list(recorded)} there, {list(current)} here']
        out = []
        for key in list(recorded) + [k for k in current if k not in recorded]:
            out += plan_differences(recorded.get(key, _UNSET),
                                    current.get(key, _UNSET),
                                    f'{prefix}.{key}' if prefix else key)
        return out
    if recorded == current:
        return []
    return [f'{prefix}: {recorded!r} there, {current!r} here']


class Comparison:
    """A plan in a work dir (module docstring).

    Args:
        plan: the runs.
        work_dir: the comparison's folder.
        make_stage: the stage of a run key, its folder
            ``work_dir/plan.stage_dir(key)``.
        runner: how stages are launched (:mod:`.stages`).
        settings: the caller's own settings that define the runs (e.g. the
            data root), recorded in ``plan.json`` beside the plan.
        log: where progress lines go.
    """

    def __init__(self, plan: Plan, work_dir: str,
                 make_stage: Callable[[RunKey], Stage], runner: Runner,
                 settings: Optional[Dict] = None,
                 log: Callable[[str], None] = print) -> None:
        self.plan, self.work_dir = plan, osp.abspath(work_dir)
        self.make_stage, self.runner = make_stage, runner
        self.settings, self.log = dict(settings or {}), log

    def record(self) -> Dict:
        """What ``plan.json`` holds for this plan."""
        hashes = {m.key: config_hash(merged_config(m.config, {}))
                  for m in self.plan.methods}
        record = dict(plan=self.plan.settings(), config_hashes=hashes,
                      settings=self.settings)
        return json.loads(json.dumps(record))  # as read back

    def check_plan(self) -> None:
        """Refuse a work dir that holds another plan, or files but no plan;
        record the plan in a new one."""
        path = osp.join(self.work_dir, PLAN_FILE)
        current = self.record()
        if osp.isfile(path):
            with open(path) as f:
                recorded = json.load(f)
            differences = plan_differences(recorded, current)
            if differences:
                raise PlanChanged(
                    f'work dir {self.work_dir} holds another plan '
                    f'({PLAN_FILE}): ' + '; '.join(differences) + '. Give '
                    'another work dir, or the same configs and settings to '
                    'continue it (nothing in it is changed)')
            return
        if osp.isdir(self.work_dir) and os.listdir(self.work_dir):
            raise PlanChanged(
                f'{self.work_dir} is not empty and holds no {PLAN_FILE}; give '
                'a new work dir (nothing in it is overwritten)')
        os.makedirs(self.work_dir, exist_ok=True)
        with open(path, 'w') as f:
            json.dump(current, f, indent=2)

    def check_stages(self) -> None:
        """Refuse, before any stage starts, stage folders whose merged
        config changed since they ran (every one is named)."""
        problems = []
        runs = osp.join(self.work_dir, 'runs')
        for folder, _, files in sorted(os.walk(runs)):
            if STAGE_FILE not in files:
                continue
            with open(osp.join(folder, STAGE_FILE)) as f:
                info = json.load(f)['info']
            key = RunKey(**{k: info[k] for k in RunKey.__dataclass_fields__})
            try:
                self.make_stage(key).state()
            except StageChanged as e:
                problems.append(str(e))
        if problems:
            raise StageChanged('\n'.join(problems))

    def run(self) -> Progress:
        """The grid, the lr choice, the seeds: as far as the runner gets.

        Returns the :class:`~.plan.Progress`: complete when every stage is
        done; else what is missing (and, under Slurm, what is running).
        """
        self.check_plan()
        self.check_stages()
        plan = self.plan
        grid = [self.make_stage(k) for k in plan.grid_keys()]
        self.log(f'\n== lr grid {list(plan.lrs)} on val ({len(grid)} runs, '
                 f'{self.runner.describe()})')
        runs, missing, pending = run_stages(grid, self.runner, self.log)
        if missing:
            return Progress(runs, None, len(grid), missing, pending)
        methods = [m.key for m in plan.methods]
        choices = {task: choose_lrs([r for r in runs if r['task'] == task],
                                    methods, plan.lrs)
                   for task in plan.tasks}
        for task, choice in choices.items():
            self.log(f'   {task}: shared lr {choice["shared"]:g}; tuned '
                     + ', '.join(f'{m} {lr:g}' for m, lr in
                                 choice['tuned'].items()))
        final = [self.make_stage(k) for k in plan.final_keys(choices)]
        self.log(f'\n== chosen lrs with seeds {list(plan.seeds)} on test '
                 f'({len(final)} more runs)')
        more, missing, pending = run_stages(final, self.runner, self.log)
        return Progress(runs + more, choices, len(grid) + len(final),
                        missing, pending)
