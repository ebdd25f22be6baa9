"""Bad training data: fail fast naming the file and line, or skip and count.

mmaction2's ``VideoDataset`` trusts its annotation list: a label that is not
an integer fails with a bare ``ValueError: invalid literal for int()``, a label
>= the number of classes fails deep inside the loss (an IndexError on the CPU,
a device-side assert on CUDA), an empty list builds an empty dataset, and a
missing or corrupt video stops the run hours in with decord's "Error reading
..." and no hint which line of which list it came from.

:class:`CheckedVideoDataset` (any ``VideoDataset`` argument, plus
``on_bad_sample``) checks the list when the dataset is built and guards every
sample when it is loaded:

============================  ======================  =========================
problem                       ``'error'`` (default)   ``'skip'``
============================  ======================  =========================
empty list / no valid line    error at build          error at build
label not an integer,         error at build naming   line dropped at build,
negative or >= num_classes    file, line, label and   one warning naming every
                              the valid range         dropped line
video file missing            same (``check_files``)  same
video cannot be decoded       error when loaded,      the next sample is used;
(truncated, not a video)      naming video and line   a warning names it; the
                                                      epoch's count is logged
                                                      by BadSampleReportHook
============================  ======================  =========================

``'skip'`` is for training sets only: substituting a sample in validation or
test would change the set a metric is computed on, so ``test_mode=True`` with
``'skip'`` is refused.

Counting with dataloader workers: a worker loads samples in its own process,
so a counter in the dataset object would stay in the worker. Each skipped
sample is appended as one JSON line to a record file instead (one ``write`` per
line on a file opened for appending, so lines of concurrent workers do not
mix). ``BadSampleReportHook`` (in
:mod:`adaptformer_mm.engine.hooks.bad_sample_report`) chooses the file
(``bad_samples_rankR.jsonl`` in the run's log folder) in ``before_train``,
before any worker starts, and reads what was added at the end of each epoch.
Without the hook the per-sample warnings still appear, and
``bad_samples_seen`` counts the samples skipped in the current process (all
of them only with ``num_workers=0``).

Config::

    train_dataloader = dict(dataset=dict(
        type='CheckedVideoDataset', ann_file='train_list.txt',
        data_root='data/ssv2', num_classes=174, on_bad_sample='skip', ...))
    custom_hooks = [..., dict(type='BadSampleReportHook')]
"""
import json
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.fileio import exists, get_text
from mmengine.logging import print_log

__all__ = [
    'BAD_SAMPLE_MODES', 'AnnotationError', 'BadSampleError',
    'BadSampleMixin', 'CheckedVideoDataset'
]

BAD_SAMPLE_MODES = ('error', 'skip')
# How many bad samples a log message names before "... and N more".
SHOWN = 10


class AnnotationError(ValueError):
    """An annotation list is empty or has a line that is not a valid sample."""


class BadSampleError(RuntimeError):
    """A sample of the annotation list cannot be loaded."""


class BadSampleMixin:
    """Checked annotation lists and guarded sample loading for a
    ``VideoDataset`` subclass: ``class D(BadSampleMixin, VideoDataset)``
    (the mixin must come first).

    Args:
        on_bad_sample (str): ``'error'`` (default) fails on the first bad
            line or sample; ``'skip'`` drops bad lines at build and replaces a
            sample that cannot be loaded by the next loadable one (training
            only). See the module docstring for the full table.
        check_files (bool): Check at build that every video of the list
            exists, so a wrong ``data_prefix`` or a missing file is reported
            before training starts. Costs one ``stat`` per line. Default True.
        num_classes (int, optional): Labels must lie in
            ``[0, num_classes)``. Default: the number of ``metainfo``
            classes if given, else only non-negative labels are required.
            Set it to the head's ``num_classes``.
        **kwargs: arguments of the dataset class.
    """

    def __init__(self,
                 *args,
                 on_bad_sample: str = 'error',
                 check_files: bool = True,
                 **kwargs) -> None:
        if on_bad_sample not in BAD_SAMPLE_MODES:
            raise ValueError(f'on_bad_sample={on_bad_sample!r}; valid: '
                             f'{BAD_SAMPLE_MODES}')
        if on_bad_sample == 'skip' and kwargs.get('test_mode', False):
            raise ValueError(
                "on_bad_sample='skip' with test_mode=True: replacing a sample "
                'would change the set the metric is computed on. Clean the '
                "annotation list, or use on_bad_sample='error'.")
        # Set before super().__init__, which loads the annotation list.
        self.on_bad_sample = on_bad_sample
        self.check_files = check_files
        self.bad_sample_record: Optional[str] = None
        self.bad_samples_seen = 0
        self.dropped_lines: List[str] = []
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------ build time
    def load_data_list(self) -> List[dict]:
        """Parse ``path label [label ...]`` lines like ``VideoDataset``,
        checking every line; each sample remembers its ``ann_line``."""
        data_list, dropped, lines = self.parse_annotations()
        if dropped and self.on_bad_sample == 'error':
            raise AnnotationError(dropped[0][1])
        if dropped:
            self.dropped_lines = [message for _, message in dropped]
            print_log(
                f'{type(self).__name__}: dropped {len(dropped)} bad line(s) '
                f'of {self.ann_file} (on_bad_sample=\'skip\'): '
                + listing(self.dropped_lines),
                logger='current', level=logging.WARNING)
        if not data_list:
            what = 'no lines' if not any(ln.strip() for ln in lines) else \
                f'no valid line ({len(dropped)} dropped)'
            raise AnnotationError(
                f'annotation file {self.ann_file} has {what}: expected '
                f'"path label" per line')
        return data_list

    def parse_annotations(
            self) -> Tuple[List[dict], List[Tuple[int, str]], List[str]]:
        """Check every line of the annotation list.

        Returns:
            ``(samples, bad, lines)``: the valid samples, ``(line number,
            message naming file, line and reason)`` for each bad line, and
            the list's lines as read. Blank lines are neither.
        """
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'annotation file not found: {self.ann_file}')
        lines = get_text(self.ann_file).splitlines()
        limit = self._label_limit()
        samples, bad = [], []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue  # blank lines carry no sample
            try:
                samples.append(self._parse_line(line, number, limit))
            except AnnotationError as e:
                bad.append((number, str(e)))
        return samples, bad, lines

    def _label_limit(self) -> Optional[int]:
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = self.metainfo.get('classes') if self.metainfo else None
        return len(classes) if classes else None

    def _parse_line(self, line: str, number: int,
                    limit: Optional[int]) -> Dict[str, Any]:
        where = f'{self.ann_file} line {number}'
        parts = line.strip().split(self.delimiter)
        expected = 'expected "path label" with ' + (
            f'0 <= label < {limit}' if limit is not None else 'label >= 0')
        if len(parts) == 1 and not self.multi_class and self.test_mode:
            labels = [-1]  # mmaction2's fake label for inference lists
        elif len(parts) < 2 or (len(parts) > 2 and not self.multi_class):
            raise AnnotationError(f'{where}: {line.strip()!r}: {expected}')
        else:
            labels = []
            for text in parts[1:]:
                try:
                    label = int(text)
                except ValueError:
                    raise AnnotationError(
                        f'{where}: label {text!r} is not an integer '
                        f'({expected})') from None
                if label < 0 or (limit is not None and label >= limit):
                    raise AnnotationError(
                        f'{where}: label {label} is out of range ({expected})')
                labels.append(label)
        filename = parts[0]
        if self.data_prefix.get('video') is not None:
            filename = osp.join(self.data_prefix['video'], filename)
        if self.check_files and not exists(filename):
            raise AnnotationError(f'{where}: video not found: {filename}')
        label = labels if self.multi_class else labels[0]
        return dict(filename=filename, label=label, ann_line=number)

    # ------------------------------------------------------------- load time
    def prepare_data(self, idx: int):
        if self.on_bad_sample == 'error':
            try:
                return super().prepare_data(idx)
            except Exception as e:
                raise BadSampleError(self._describe(idx, e)) from e
        # Deterministic replacement (the next index), unlike BaseDataset's
        # random refetch, so a run with skipped samples stays reproducible.
        tries = min(len(self), self.max_refetch + 1)
        for step in range(tries):
            j = (idx + step) % len(self)
            try:
                return super().prepare_data(j)
            except Exception as e:  # decoding raises many types
                self._record_bad(j, e)
        raise BadSampleError(
            f'{tries} samples in a row from index {idx} of {self.ann_file} '
            'could not be loaded; is the decoder working and data_prefix '
            'right?')

    def _sample_source(self, idx: int) -> Dict[str, Any]:
        info = self.get_data_info(idx)
        return dict(index=idx, filename=info.get('filename'),
                    ann_file=self.ann_file, line=info.get('ann_line'))

    def _describe(self, idx: int, error: Exception) -> str:
        src = self._sample_source(idx)
        # A data list made elsewhere (not by load_data_list) has no line.
        where = src['ann_file'] if src['line'] is None else \
            f'{src["ann_file"]} line {src["line"]}'
        return (f'cannot load sample {idx} ({where}): {src["filename"]}: '
                f'{type(error).__name__}: {_one_line(error)}')

    def _record_bad(self, idx: int, error: Exception) -> None:
        self.bad_samples_seen += 1
        print_log(f'skipping bad sample: {self._describe(idx, error)}',
                  logger='current', level=logging.WARNING)
        if self.bad_sample_record is None:
            return
        entry = dict(self._sample_source(idx),
                     error=f'{type(error).__name__}: {_one_line(error)}')
        line = (json.dumps(entry) + '\n').encode()
        # One write() on an O_APPEND descriptor: lines of concurrent
        # workers land whole and in some order.
        fd = os.open(self.bad_sample_record,
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


@DATASETS.register_module()
class CheckedVideoDataset(BadSampleMixin, VideoDataset):
    """mmaction2's ``VideoDataset`` that checks its annotation list and
    guards sample loading (:class:`BadSampleMixin`). Same arguments as
    ``VideoDataset`` plus ``on_bad_sample`` and ``check_files``."""


def _one_line(error: Exception, limit: int = 300) -> str:
    text = ' '.join(str(error).split())
    return text if len(text) <= limit else text[:limit] + '...'


def listing(items: List[str]) -> str:
    """The first SHOWN items joined by '; ', then '... and N more'."""
    shown = '; '.join(items[:SHOWN])
    more = len(items) - SHOWN
    return shown + (f'; ... and {more} more' if more > 0 else '')
