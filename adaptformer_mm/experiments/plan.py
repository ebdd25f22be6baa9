"""A comparison's plan: which runs, in which order, under which protocols.

A plan is methods x lrs x seeds x data sizes x tasks (x pre-training seeds,
where the backbone itself is trained by the experiment, as in the demo). It
runs in two steps:

1. **the lr grid**: every (task, method, lr) on the first seed, the largest
   data size and the first pre-training seed, scored on the val split;
2. **the seeds**: for every task, data size and pre-training seed, each
   method at the lr of each protocol (:data:`~.report.PROTOCOLS`: ``shared``
   one lr for every method, the grid value best on val averaged over the
   methods; ``tuned`` each method's own best), with every seed. A run the
   grid made already is reused, not repeated; the smaller data sizes use the
   lrs chosen at the largest, as the VPT paper's data-scale study does.

This module is plain data: which runs exist and where their folders are. The
stages that make them are :mod:`.stages`, the lr choice :mod:`.report`.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .report import PROTOCOLS, protocol_lr

#: A data size: None (the config's own training set), an int (clips in all,
#: or samples per class) or a float (a fraction of the training set).
Size = Optional[Union[int, float]]

#: How the data sizes of a plan read: the prefix of their folder names, their
#: description and the axis of ``accuracy_vs_data.png``.
SIZE_UNITS = {
    'clips': ('n', '{} training clips', 'training clips'),
    'shots': ('k', '{} training samples per class',
              'training samples per class'),
    'fraction': ('f', '{:g} of the training set (per class)',
                 'fraction of the training set'),
}


class ComparisonError(ValueError):
    """Bad input to a comparison, found before any stage starts; the message
    names the flag, file or key and what would be valid."""


@dataclass(frozen=True)
class Method:
    """One row of the comparison.

    Args:
        key: short name, used in folder names (``adaptformer-64``).
        label: row label of the tables and figures.
        config: path of the method's config file.
    """
    key: str
    label: str
    config: str


@dataclass(frozen=True)
class RunKey:
    """Which run: one training of one method's config with one setting."""
    task: str
    size: Size
    pretrain_seed: int
    method: str
    lr: float
    seed: int

    @property
    def name(self) -> str:
        return f'{self.method}_lr{self.lr:g}_seed{self.seed}'


def _distinct(name: str, values: Sequence, minimum=None) -> tuple:
    values = tuple(values)
    if not values or len(set(values)) != len(values):
        raise ValueError(f'{name}: {list(values)}; give at least one value, '
                         'each once')
    if minimum is not None and any(v is None or v < minimum
                                   for v in values):
        raise ValueError(f'{name}: {list(values)}; every value must be >= '
                         f'{minimum}')
    return values


@dataclass(frozen=True)
class Plan:
    """Every run of a comparison (module docstring).

    Args:
        methods: the rows.
        lrs: the lr grid (sorted ascending here).
        seeds: transfer seeds; the first one runs the grid.
        protocols: a subset of :data:`~.report.PROTOCOLS`.
        tasks: downstream task names (one for a comparison on one dataset).
        data_sizes: training-set sizes (``(None,)``: the config's own); the
            grid runs on the largest.
        size_unit: how the sizes read (:data:`SIZE_UNITS`).
        pretrain_seeds: seeds of an upstream pre-training the experiment runs
            itself, or None when the methods' configs name their backbone.
    """
    methods: Tuple[Method, ...]
    lrs: Tuple[float, ...]
    seeds: Tuple[int, ...]
    protocols: Tuple[str, ...] = tuple(sorted(PROTOCOLS))
    tasks: Tuple[str, ...] = ('data', )
    data_sizes: Tuple[Size, ...] = (None, )
    size_unit: str = 'clips'
    pretrain_seeds: Optional[Tuple[int, ...]] = None

    def __post_init__(self):
        keys = [m.key for m in self.methods]
        _distinct('methods', keys)
        set_ = object.__setattr__
        set_(self, 'methods', tuple(self.methods))
        lrs = _distinct('lrs', [float(lr) for lr in self.lrs])
        if any(lr <= 0 for lr in lrs):
            raise ValueError(f'lrs: {list(lrs)}; every lr must be > 0')
        set_(self, 'lrs', tuple(sorted(lrs)))
        set_(self, 'seeds', _distinct('seeds', self.seeds, 0))
        protocols = _distinct('protocols', self.protocols)
        unknown = [p for p in protocols if p not in PROTOCOLS]
        if unknown:
            raise ValueError(f'protocols: {unknown}; valid: '
                             f'{sorted(PROTOCOLS)}')
        set_(self, 'protocols', protocols)
        set_(self, 'tasks', _distinct('tasks', self.tasks))
        if self.size_unit not in SIZE_UNITS:
            raise ValueError(f'size_unit={self.size_unit!r}; valid: '
                             f'{list(SIZE_UNITS)}')
        sizes = _distinct('data_sizes', self.data_sizes)
        if None in sizes and len(sizes) > 1:
            raise ValueError(f'data_sizes: {list(sizes)}; None (the '
                             "config's own) cannot be mixed with sizes")
        set_(self, 'data_sizes', sizes)
        if self.pretrain_seeds is not None:
            set_(self, 'pretrain_seeds',
                 _distinct('pretrain_seeds', self.pretrain_seeds, 0))

    # ------------------------------------------------------------ the runs
    @property
    def grid_size(self) -> Size:
        """The data size the lr grid runs on: the largest."""
        return None if self.data_sizes == (None, ) else max(self.data_sizes)

    @property
    def first_pretrain_seed(self) -> int:
        return self.pretrain_seeds[0] if self.pretrain_seeds else 0

    def grid_keys(self) -> List[RunKey]:
        """The lr grid's runs, task by task, method by method."""
        return [RunKey(task, self.grid_size, self.first_pretrain_seed,
                       m.key, lr, self.seeds[0])
                for task in self.tasks for m in self.methods
                for lr in self.lrs]

    def final_keys(self, choices: Dict[str, Dict]) -> List[RunKey]:
        """The runs after the grid: every chosen (method, lr) with every
        seed, data size and pre-training seed, less those the grid made.

        Args:
            choices: ``{task: choose_lrs(...)}``.
        """
        grid = set(self.grid_keys())
        keys = []
        for task in self.tasks:
            for size in self.data_sizes:
                for p in self.pretrain_seeds or (0, ):
                    for m in self.methods:
                        lrs = sorted({protocol_lr(choices[task], pr, m.key)
                                      for pr in self.protocols})
                        keys += [RunKey(task, size, p, m.key, lr, seed)
                                 for lr in lrs for seed in self.seeds]
        return [k for k in keys if k not in grid]

    # ------------------------------------------------------------- naming
    def size_tag(self, size: Size) -> str:
        """``n128``, ``k16``, ``f0.1`` or ``all``: a size in folder names."""
        if size is None:
            return 'all'
        return f'{SIZE_UNITS[self.size_unit][0]}{size:g}'

    def size_label(self, size: Size) -> str:
        """A size in the report's headings."""
        if size is None:
            return "the config's training set"
        return SIZE_UNITS[self.size_unit][1].format(size)

    @property
    def size_axis(self) -> str:
        """What the sizes count, as an axis label."""
        return SIZE_UNITS[self.size_unit][2]

    def stage_dir(self, key: RunKey) -> str:
        """The run's folder under the work dir."""
        group = f'{key.task}_{self.size_tag(key.size)}'
        if self.pretrain_seeds is not None:
            group += f'_pre{key.pretrain_seed}'
        return osp.join('runs', group, key.name)

    def run_info(self, key: RunKey) -> Dict:
        """The fields of a run's record that say which run it is."""
        return dict(task=key.task, size=key.size,
                    pretrain_seed=key.pretrain_seed, method=key.method,
                    lr=key.lr, seed=key.seed, work_dir=self.stage_dir(key))

    def labels(self) -> Dict[str, str]:
        return {m.key: m.label for m in self.methods}

    def settings(self) -> Dict:
        """The plan as plain data (``plan.json``)."""
        return dict(
            methods={m.key: dict(label=m.label, config=m.config)
                     for m in self.methods},
            lrs=list(self.lrs), seeds=list(self.seeds),
            protocols=list(self.protocols), tasks=list(self.tasks),
            data_sizes=list(self.data_sizes), size_unit=self.size_unit,
            pretrain_seeds=(None if self.pretrain_seeds is None else
                            list(self.pretrain_seeds)))


@dataclass
class Progress:
    """Where a comparison stands after a run of the harness.

    Attributes:
        runs: the run records of every finished stage of the plan so far.
        choices: ``{task: choose_lrs(...)}`` once the grid is complete.
        total: stages the plan has so far (the grid; with the choices, the
            seeds too).
        missing: names of the stages not finished.
        pending: a sentence on stages still running elsewhere (a Slurm
            array), or ''.
    """
    runs: List[Dict] = field(default_factory=list)
    choices: Optional[Dict[str, Dict]] = None
    total: int = 0
    missing: List[str] = field(default_factory=list)
    pending: str = ''

    @property
    def complete(self) -> bool:
        return self.choices is not None and not self.missing

    def status(self) -> str:
        """``20 of 20 stages done`` or ``not complete: 12 of 20 stages
        done; 8 missing: ...``."""
        done = f'{self.total - len(self.missing)} of {self.total} stages done'
        if self.complete:
            return done
        text = f'not complete: {done}'
        if self.missing:
            text += (f'; {len(self.missing)} missing: '
                     + ', '.join(self.missing))
        if self.choices is None:
            text += ' (the seeds follow once the lr grid is done)'
        if self.pending:
            text += f'. {self.pending}'
        return text
