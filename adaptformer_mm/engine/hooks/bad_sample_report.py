"""Count and name the training samples a checked dataset skipped, per epoch.

The datasets side (checked annotation lists, guarded loading, the record
file every dataloader worker appends to) is
:mod:`adaptformer_mm.datasets.robust`; this hook chooses the record file
before any worker starts and reports what was added at the end of each epoch.

Config::

    custom_hooks = [..., dict(type='BadSampleReportHook')]
"""
import json
import os.path as osp
from typing import List

from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from adaptformer_mm.datasets.robust import BadSampleMixin, listing


def checked_datasets(dataset) -> List[BadSampleMixin]:
    """The :class:`BadSampleMixin` datasets inside (wrappers unwrapped)."""
    if isinstance(dataset, BadSampleMixin):
        return [dataset]
    found = []
    inner = getattr(dataset, 'datasets', None)  # ConcatDataset
    for child in (inner or []) + [getattr(dataset, 'dataset', None)]:
        if child is not None:
            found += checked_datasets(child)
    return found


@HOOKS.register_module()
class BadSampleReportHook(Hook):
    """Log how many training samples were skipped in each epoch, and which.

    Gives every :class:`BadSampleMixin` dataset of the train dataloader a
    record file ``bad_samples_rank{R}.jsonl`` in the run's log folder (kept as
    the list of skipped samples), then at the end of each epoch reads the
    lines added since the last epoch (from all dataloader workers) and, on
    rank 0, logs the count over all ranks and names the samples. Does nothing
    for other datasets.
    """

    priority = 'LOW'

    def before_train(self, runner) -> None:
        self.datasets = checked_datasets(runner.train_dataloader.dataset)
        self.record = osp.join(runner.log_dir,
                               f'bad_samples_rank{get_rank()}.jsonl')
        self.offset = 0
        self.total = 0
        # Before the first epoch, hence before any dataloader worker exists
        # (workers copy the dataset when they start).
        for dataset in self.datasets:
            dataset.bad_sample_record = self.record

    def after_train_epoch(self, runner) -> None:
        if not self.datasets:
            return
        entries = []
        if osp.isfile(self.record):
            with open(self.record, 'rb') as f:
                f.seek(self.offset)
                data = f.read()
            self.offset += len(data)
            entries = [json.loads(ln) for ln in data.decode().splitlines()
                       if ln.strip()]
        # A bad sample also tried as another one's replacement is recorded
        # twice; the count is of distinct samples.
        everywhere = list({(e['ann_file'], e['index']): e
                           for part in all_gather_object(entries)
                           for e in part}.values())
        if not everywhere:
            return
        self.total += len(everywhere)
        names = [f'{e["filename"]} ({osp.basename(e["ann_file"])} line '
                 f'{e["line"]}: {e["error"]})' for e in everywhere]
        runner.logger.warning(
            f'epoch {runner.epoch + 1}: skipped {len(everywhere)} bad '
            f'sample(s) ({self.total} in this run so far; list in '
            f'{osp.dirname(self.record)}/bad_samples_rank*.jsonl): '
            + listing(names))
