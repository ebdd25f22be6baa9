"""Stages: each run of a comparison is one ordinary ``tools/train.py`` run.

A :class:`Stage` writes its settings as a short config of its own beside its
folder (``<folder>_config.py``), inheriting the method's config through
``_base_`` (``--cfg-options`` would drop the spaces of a path), and its
command line as ``command.txt`` in the folder, so any stage can be rerun
alone. ``stage.json`` in the folder records the hash of the merged config:

* a stage whose result files are there (:func:`.results.is_finished`) and
  whose hash is the one recorded is **done**: reused, never rerun or
  overwritten;
* one with the recorded hash but without results was stopped (a kill, a
  node lost): it runs again, with ``--resume`` when it left a checkpoint;
* one whose merged config no longer has the recorded hash (its method's
  config, a base of it, or a setting was edited) is **refused**
  (:class:`StageChanged`, naming the folder) before any stage starts: its
  results belong to other settings, and they are not overwritten.

How a stage is launched (locally, through torchrun, as a Slurm array task)
is :mod:`.launchers`; every launcher appends one line per attempt (exit
code, seconds, launcher) to the stage's ``attempts.jsonl`` and the run's
output to ``console.log``.
"""
import copy
import functools
import hashlib
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import (TYPE_CHECKING, Callable, Dict, List, Optional, Sequence,
                    Tuple)

from .plan import ComparisonError
from .results import ATTEMPTS, is_finished, read_results

if TYPE_CHECKING:
    from .launchers import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE_FILE = 'stage.json'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class StageChanged(ComparisonError):
    """A finished or started stage whose merged config is no longer the one
    it ran with."""


class StageFailed(RuntimeError):
    """Stages that ended without results."""


# ------------------------------------------------------------------ configs
@functools.lru_cache(maxsize=None)
def _base_config(path: str):
    from mmengine.config import Config
    return Config.fromfile(path)


def merged_config(config: str, options: Dict[str, object]):
    """The config with ``options`` (dotted keys) merged, as its stage runs
    it (the config file is read once per process)."""
    cfg = copy.deepcopy(_base_config(osp.abspath(config)))
    cfg.merge_from_dict(copy.deepcopy(options))
    return cfg


def config_hash(cfg) -> str:
    """SHA-256 of a merged config's content (its dict as sorted JSON)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def plain(value):
    """A config value as plain Python literals (``ConfigDict`` -> dict), so
    that its ``repr`` is valid config text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def nested(options: Dict[str, object]) -> Dict[str, Dict]:
    """``{'a.b.c': v}`` -> ``{'a': {'b': {'c': v}}}`` (top-level keys)."""
    out: Dict[str, Dict] = {}
    for key, value in options.items():
        *parents, last = key.split('.')
        level = out
        for name in parents:
            level = level.setdefault(name, {})
        level[last] = plain(value)
    return out


# -------------------------------------------------------------------- stage
@dataclass
class Stage:
    """One ``tools/train.py`` run of ``config`` with ``options``, in its
    own folder (module docstring).

    Args:
        name: shown in progress lines and messages.
        config: the method's config file.
        work_dir: the stage's folder (absolute).
        options: settings merged into ``config`` (dotted keys, e.g.
            ``optim_wrapper.optimizer.lr``).
        info: the fields of the stage's run record (task, method, lr...).
        threads: torch threads of its process.
        note: what sets the options, for the stage config's first line.
    """
    name: str
    config: str
    work_dir: str
    options: Dict[str, object]
    info: Dict = field(default_factory=dict)
    threads: int = 1
    note: str = 'the settings of a comparison'

    @property
    def stage_config(self) -> str:
        # Beside the folder, not in it: mmengine dumps the merged config
        # into the work dir under the config's own name.
        return osp.join(osp.dirname(self.work_dir),
                        f'{osp.basename(self.work_dir)}_config.py')

    def argv(self, resume: bool = False) -> List[str]:
        """``tools/train.py``'s arguments after the config."""
        return ['--work-dir', self.work_dir, '--test'] + (
            ['--resume'] if resume else [])

    def merged(self):
        return merged_config(self.config, self.options)

    @functools.cached_property
    def config_hash(self) -> str:
        return config_hash(self.merged())

    def config_text(self) -> str:
        config = osp.abspath(self.config)
        shown = osp.relpath(config, REPO) if config.startswith(
            REPO + os.sep) else config
        lines = [f'# {self.name}: {shown} with {self.note}',
                 f'_base_ = [{config!r}]']
        lines += [f'{k} = {v!r}' for k, v in nested(self.options).items()]
        return '\n'.join(lines) + '\n'

    def record(self) -> Optional[Dict]:
        path = osp.join(self.work_dir, STAGE_FILE)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)

    def state(self) -> str:
        """``'done'``, ``'resume'`` (stopped after a checkpoint), ``'rerun'``
        (stopped before one) or ``'new'``; :class:`StageChanged` when the
        folder holds another config's run."""
        record = self.record()
        if record is None:
            if osp.isdir(self.work_dir) and os.listdir(self.work_dir):
                raise StageChanged(
                    f'{self.work_dir} holds files but no {STAGE_FILE}: not a '
                    'stage of this comparison; move it away')
            return 'new'
        if record.get('config_hash') != self.config_hash:
            raise StageChanged(
                f'{self.work_dir}: its merged config changed since it ran '
                f'({STAGE_FILE}: config_hash {record.get("config_hash")}, '
                f'now {self.config_hash}; config {self.config}). Its results '
                'belong to the old settings and are not overwritten: move '
                'the folder away to run it with the new ones, or give '
                'another work dir')
        if is_finished(self.work_dir):
            return 'done'
        saved = osp.isfile(osp.join(self.work_dir, 'last_checkpoint')) or any(
            f.endswith('.pth') for f in os.listdir(self.work_dir))
        return 'resume' if saved else 'rerun'

    def write(self, command: str) -> None:
        """Write ``stage.json`` (first: it claims the folder), the stage
        config and ``command.txt``."""
        os.makedirs(self.work_dir, exist_ok=True)
        with open(osp.join(self.work_dir, STAGE_FILE), 'w') as f:
            json.dump(dict(name=self.name, config=osp.abspath(self.config),
                           config_hash=self.config_hash,
                           stage_config=self.stage_config, info=self.info),
                      f, indent=2)
        with open(self.stage_config, 'w') as f:
            f.write(self.config_text())
        with open(osp.join(self.work_dir, 'command.txt'), 'w') as f:
            f.write(command + '\n')

    def result(self) -> Dict:
        """The run record: ``info`` plus :func:`.results.read_results`."""
        return dict(self.info, **read_results(self.work_dir))


def record_attempt(work_dir: str, **attempt) -> None:
    with open(osp.join(work_dir, ATTEMPTS), 'a') as f:
        f.write(json.dumps(attempt) + '\n')


def prepare_data(stages: Sequence[Stage]) -> None:
    """Write (or reuse) the synthetic clips of the stages before any starts,
    so stages side by side never write the same clips, and a folder made
    with other generator settings is reported here, naming it."""
    from adaptformer_mm.datasets import prepare_synthetic
    from adaptformer_mm.datasets.synthetic import SYNTHETIC_DEFAULTS
    from adaptformer_mm.datasets.pipeline import step_name, unwrap_dataset_cfg
    done = set()
    for stage in stages:
        cfg = stage.merged()
        for loader in LOADERS:
            dataset = unwrap_dataset_cfg((cfg.get(loader) or {}).get(
                'dataset') or {})[0]
            if step_name(dataset) != 'SyntheticVideoDataset':
                continue
            params = {k: dataset.get(k, default)
                      for k, default in SYNTHETIC_DEFAULTS.items()}
            key = (dataset.data_root, tuple(sorted(params.items())))
            if key not in done:
                done.add(key)
                prepare_synthetic(dataset.data_root, **params)


# ------------------------------------------------------------ one phase
def run_stages(stages: Sequence[Stage], runner: 'Runner',
               log: Callable[[str], None] = print
               ) -> Tuple[List[Dict], List[str], str]:
    """Run the stages of ``stages`` that are not done.

    Finished stages are reused; stopped ones run again (``--resume`` after a
    checkpoint); those still running under an earlier Slurm submission are
    left to it. Returns ``(records of the finished stages in the order of
    stages, names of the others, a sentence on those still running)``;
    :class:`StageFailed` when a stage this call ran ended without results.
    """
    states = {id(s): s.state() for s in stages}
    todo_stages = [s for s in stages if states[id(s)] != 'done']
    reused = len(stages) - len(todo_stages)
    if reused:
        log(f'   reusing {reused} finished stage(s) of {len(stages)}')
    running, note = runner.pending(todo_stages)
    todo = [(s, states[id(s)] == 'resume') for s in todo_stages
            if s.work_dir not in running]
    prepare_data([s for s, _ in todo])
    for stage, _ in todo:
        stage.write(runner.command(stage))
    ended = []

    def done(stage: Stage, code: int) -> None:
        ended.append(stage)
        head = f'[{len(ended):>3}/{len(todo)}] {stage.name}:'
        if code == 0 and is_finished(stage.work_dir):
            r = stage.result()
            log(f'{head} val {100 * r["val"]:.1f}  test {100 * r["test"]:.1f}'
                f'  ({r["seconds"]:.0f} s)')
        else:
            log(f'{head} failed (exit {code})')

    submitted = runner.run(todo, done)
    if runner.waits:
        failed = [s for s, _ in todo if not is_finished(s.work_dir)]
        if failed:
            raise StageFailed('; '.join(
                f'stage {s.name!r} failed: its output is in '
                f'{osp.join(s.work_dir, "console.log")}, its command in '
                f'{osp.join(s.work_dir, "command.txt")}' for s in failed)
                + '. Finished stages are kept: run the same command again '
                'to run the others.')
    results = [s.result() for s in stages if is_finished(s.work_dir)]
    missing = [s.name for s in stages if not is_finished(s.work_dir)]
    return results, missing, '. '.join(n for n in (note, submitted) if n)
