"""Comparisons of tuning methods: an lr grid on val, the two protocols, seeds
on test, a Table-1 style report and figures (``tools/compare.py``,
``tools/run_demo.py``; ``docs/comparison.md``).

* :mod:`.plan`: which runs (methods x lrs x seeds x data sizes x tasks);
* :mod:`.stages`: each run as an ordinary ``tools/train.py`` run of a
  config, reused when finished; :mod:`.launchers`: stages run locally,
  through torchrun or as a Slurm job array;
* :mod:`.results`: a run's results, read from the files it wrote;
* :mod:`.report`: the lr choice under each protocol, aggregation, tables
  and figures;
* :mod:`.harness`: a plan run re-entrantly in a work dir;
* :mod:`.configs` and :mod:`.compare`: methods given as config files;
* :mod:`.demo`: the synthetic main job, with its own pre-training.

Not imported by ``adaptformer_mm/__init__.py``.
"""
from .compare import compare
from .harness import Comparison, PlanChanged
from .plan import ComparisonError, Method, Plan, Progress, RunKey
from .report import (PROTOCOLS, aggregate, choose_lrs, protocol_lr,
                     write_report)
from .launchers import (LAUNCHERS, LocalRunner, Runner, SlurmRunner,
                        TorchrunRunner, build_runner)
from .stages import Stage, StageChanged, StageFailed

__all__ = [
    'LAUNCHERS', 'PROTOCOLS', 'Comparison', 'ComparisonError', 'LocalRunner',
    'Method', 'Plan', 'PlanChanged', 'Progress', 'RunKey', 'Runner',
    'SlurmRunner', 'Stage', 'StageChanged', 'StageFailed', 'TorchrunRunner',
    'aggregate', 'build_runner', 'choose_lrs', 'compare', 'protocol_lr',
    'write_report'
]
