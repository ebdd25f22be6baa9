"""A stage's results, read back from the files its run wrote.

Every file comes from the ordinary training run, whatever launched it:

* ``<timestamp>/vis_data/scalars.json`` (mmengine's ``LocalVisBackend``):
  the loss curve and the val top-1 of the final weights (the last val record
  over every attempt, a resumed one included);
* ``test_metrics.json`` (``tools/train.py --test``): test top-1 of the final
  weights; its presence marks a finished run (written last);
* ``tunable_summary.json`` (``TunableSummaryHook``): trainable and total
  parameter counts;
* ``last_checkpoint`` (mmengine): the final checkpoint's path;
* ``attempts.jsonl`` (the stage's launcher, :mod:`.stages`): one line per
  attempt with its exit code and seconds.

Top-1 is a fraction in [0, 1]: mmaction2's ``acc/top1`` is one already,
mmpretrain's ``accuracy/top1`` (a percentage) is divided by 100.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional

from adaptformer_mm.engine.hooks.tunable_summary import SUMMARY_FILE

TEST_METRICS = 'test_metrics.json'
ATTEMPTS = 'attempts.jsonl'
#: The files a finished stage has.
RESULT_FILES = (TEST_METRICS, SUMMARY_FILE, 'last_checkpoint')
#: Top-1 metric keys the results are read from, and the value of 100%.
TOP1_KEYS = {'acc/top1': 1.0, 'accuracy/top1': 100.0}


def is_finished(work_dir: str) -> bool:
    """Whether the stage's run finished (its result files are there)."""
    return all(osp.isfile(osp.join(work_dir, f)) for f in RESULT_FILES)


def top1(metrics: Dict, source: str) -> float:
    """Top-1 in [0, 1] from a metrics record; a KeyError names ``source``
    and the keys it has when none of :data:`TOP1_KEYS` is there."""
    for key, scale in TOP1_KEYS.items():
        if key in metrics:
            return metrics[key] / scale
    raise KeyError(f'{source} has no top-1 ({list(TOP1_KEYS)}); its keys: '
                   f'{sorted(metrics)}')


def read_scalars(work_dir: str) -> Dict:
    """Val top-1 (the last record) and the loss curve over every attempt's
    ``vis_data/scalars.json``, oldest attempt first."""
    attempts = sorted(d for d in os.listdir(work_dir) if osp.isfile(
        osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not attempts:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}')
    losses: Dict[int, float] = {}
    val: Optional[float] = None
    for attempt in attempts:
        path = osp.join(work_dir, attempt, 'vis_data', 'scalars.json')
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec:
                    losses[rec['step']] = rec['loss']  # a resume repeats
                if any(k in rec for k in TOP1_KEYS):
                    val = top1(rec, path)
    return dict(val=val, losses=sorted(losses.items()))


def read_attempts(work_dir: str) -> List[Dict]:
    """The attempts the launchers recorded, oldest first."""
    path = osp.join(work_dir, ATTEMPTS)
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_results(work_dir: str) -> Dict:
    """Val and test top-1, loss curve, parameter counts, checkpoint and
    seconds (summed over the recorded attempts; nan if none is)."""
    with open(osp.join(work_dir, TEST_METRICS)) as f:
        test = top1(json.load(f), osp.join(work_dir, TEST_METRICS))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    with open(osp.join(work_dir, SUMMARY_FILE)) as f:
        summary = json.load(f)
    attempts = read_attempts(work_dir)
    seconds = (sum(a['seconds'] for a in attempts) if attempts else
               math.nan)
    return dict(read_scalars(work_dir), test=test, checkpoint=checkpoint,
                trainable=summary['trainable'], total=summary['total'],
                seconds=seconds)
