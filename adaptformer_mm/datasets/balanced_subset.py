"""Downstream data scales: a class-balanced fraction, or k samples per class.

The VPT paper compares methods at several sizes of the downstream training
set, and few-shot video benchmarks train on k clips per class.
:class:`ClassBalancedSubset` wraps a training dataset and keeps, from every
class, either the same fraction of its samples or the same number ``k``:

* ``fraction=f`` (``0 < f <= 1``): class ``c`` with ``n_c`` samples keeps
  ``m_c = max(1, floor(f * n_c))`` (``f`` read as the decimal it is written
  as, so ``0.1 * 70`` is 7, not 7.000000000000001);
* ``shots=k``: every class keeps ``m_c = k``; ``k`` larger than the smallest
  class stops the build, naming that class and the valid range.

Which samples, deterministically: the samples of each class are ordered by
``sha256(f'{seed}/{index}')`` of their index in the wrapped dataset (a
permutation that depends on nothing but the seed and the list, stable across
library versions and machines), and fold ``j`` takes positions
``j*m_c ... (j+1)*m_c - 1`` of that order. The folds of one seed are
disjoint: ``floor(1/f)`` folds for a fraction, ``floor(min_c n_c / k)`` for
k shots; a fold outside that range stops the build. (A class with fewer than
``1/f`` samples keeps one and its positions wrap around, so its folds
repeat.) Another seed is another permutation: subsets of two seeds overlap
like independent draws. ``fraction=1`` keeps every sample. Kept samples stay
in the order of the wrapped dataset.

Recorded: one INFO line (settings, folds, count per class) when the subset
is made, and ``metainfo['data_subset']`` (plain data: the settings, the
count per class and a checksum of the kept indices), which mmengine writes
into every checkpoint (``meta.dataset_meta``) and task files record
(:data:`adaptformer_mm.peft.task_file.DATASET_META_KEYS`).

A class is a label ``0 .. C-1`` with ``C`` the number of ``metainfo``
classes when the dataset has them, else the largest label + 1. Samples must
have one label (``label``, as mmaction2 lists, or ``gt_label``, as
mmpretrain). Config::

    train_dataloader = dict(dataset=dict(
        type='ClassBalancedSubset', shots=16, seed=0, fold=0,
        dataset=dict(type='VideoDataset', ann_file=..., pipeline=...)))
"""
import copy
import hashlib
import logging
from fractions import Fraction
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
# mmengine's root registry, as its own dataset wrappers: found from the
# mmaction and the mmpretrain scope alike; the wrapped dataset is built in
# the current default scope.
from mmengine.registry import DATASETS

__all__ = ['ClassBalancedSubset', 'balanced_subset_indices']

#: Key of the subset's record in the wrapper's ``metainfo``.
SUBSET_META_KEY = 'data_subset'


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, bool)


def _label(info: dict, idx: int) -> int:
    """The one class label of a sample's data info."""
    label = info.get('label', info.get('gt_label'))
    if label is None:
        raise ValueError(
            f'ClassBalancedSubset: sample {idx} has no `label` or `gt_label` '
            f'(keys: {sorted(info)})')
    values = np.asarray(label).reshape(-1)
    if values.size != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f'ClassBalancedSubset: sample {idx} has label {label!r}; a '
            'class-balanced subset needs one integer label per sample')
    return int(values[0])


def _order_key(seed: int, index: int) -> bytes:
    return hashlib.sha256(f'{seed}/{index}'.encode()).digest()


def balanced_subset_indices(labels: Sequence[int],
                            num_classes: int,
                            fraction: Optional[float] = None,
                            shots: Optional[int] = None,
                            seed: int = 0,
                            fold: int = 0) -> Dict[str, Any]:
    """The class-balanced subset of a labelled list (module docstring).

    Args:
        labels: the label of each sample, in ``[0, num_classes)``.
        num_classes: ``C``.
        fraction, shots: exactly one of them.
        seed: a non-negative int.
        fold: in ``[0, num_folds)``.

    Returns:
        dict: ``indices`` (sorted positions in ``labels``), ``per_class``
        (kept count of each label), ``source_per_class``, ``num_folds``.

    Raises:
        ValueError: naming the key, its value and the valid range.
    """
    if (fraction is None) == (shots is None):
        raise ValueError(
            'ClassBalancedSubset: give exactly one of fraction (0 < fraction '
            f'<= 1) and shots (a positive int), got fraction={fraction!r}, '
            f'shots={shots!r}')
    if not _is_int(seed) or seed < 0:
        raise ValueError(f'ClassBalancedSubset: seed={seed!r}; valid: an int '
                         '>= 0')
    if not _is_int(fold):
        raise ValueError(f'ClassBalancedSubset: fold={fold!r}; valid: an int '
                         '>= 0')
    by_class: List[List[int]] = [[] for _ in range(num_classes)]
    for i, label in enumerate(labels):
        if not 0 <= label < num_classes:
            raise ValueError(
                f'ClassBalancedSubset: sample {i} has label {label}; valid: '
                f'0 <= label < {num_classes} (the number of classes)')
        by_class[label].append(i)
    sizes = [len(members) for members in by_class]
    smallest = min(range(num_classes), key=lambda c: sizes[c])
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(
                fraction, (int, float)) or not 0 < fraction <= 1:
            raise ValueError(f'ClassBalancedSubset: fraction={fraction!r} is '
                             'outside the valid range (0, 1]')
        exact = Fraction(str(fraction))
        keep = [max(1, int(exact * n)) if n else 0 for n in sizes]
        num_folds = int(1 / exact)
        setting = f'fraction={fraction:g}'
    else:
        if not sizes[smallest]:
            raise ValueError(
                f'ClassBalancedSubset: shots={shots!r} needs samples of every '
                f'class, and label {smallest} (of {num_classes} classes) has '
                'none')
        if not _is_int(shots) or shots < 1:
            raise ValueError(f'ClassBalancedSubset: shots={shots!r}; valid '
                             f'range: 1 <= shots <= {sizes[smallest]}')
        if shots > sizes[smallest]:
            raise ValueError(
                f'ClassBalancedSubset: shots={shots} is larger than the '
                f'smallest class (label {smallest}: {sizes[smallest]} '
                f'samples); valid range: 1 <= shots <= {sizes[smallest]}')
        keep = [shots] * num_classes
        num_folds = sizes[smallest] // shots
        setting = f'shots={shots}'
    if not 0 <= fold < num_folds:
        raise ValueError(
            f'ClassBalancedSubset: fold={fold} is out of range for {setting}'
            f' ({num_folds} disjoint fold(s)); valid range: 0 <= fold < '
            f'{num_folds}')
    indices = []
    for members, m in zip(by_class, keep):
        if not m:
            continue
        order = sorted(members, key=lambda i: _order_key(seed, i))
        indices += [order[(fold * m + j) % len(order)] for j in range(m)]
    return dict(indices=sorted(indices), per_class=keep,
                source_per_class=sizes, num_folds=num_folds)


@DATASETS.register_module()
class ClassBalancedSubset:
    """A class-balanced fraction or ``k`` samples per class of a dataset,
    chosen by seed and fold (module docstring).

    Args:
        dataset (dict | Dataset): The wrapped training dataset (config or
            instance). An mmengine ``BaseDataset`` is cut down in place
            (``get_subset_``), so its own loading, e.g.
            ``CheckedVideoDataset``'s replacement of a bad sample, stays
            within the subset; any other dataset (e.g.
            ``RepeatedAugDataset``) is indexed through the kept positions.
        fraction (float, optional): Keep this fraction of every class,
            ``0 < fraction <= 1``.
        shots (int, optional): Keep this many samples of every class, at
            most the size of the smallest class. Exactly one of
            ``fraction`` and ``shots``.
        seed (int): Chooses the permutation of each class. Default 0.
        fold (int): Which disjoint block of that permutation. Default 0.
        lazy_init (bool): Make the subset on :meth:`full_init` rather than
            now (mmengine's wrappers' argument). Default False.
    """

    def __init__(self,
                 dataset: Union[dict, Any],
                 fraction: Optional[float] = None,
                 shots: Optional[int] = None,
                 seed: int = 0,
                 fold: int = 0,
                 lazy_init: bool = False) -> None:
        self.dataset = (DATASETS.build(dataset) if isinstance(dataset, dict)
                        else dataset)
        self.fraction = fraction
        self.shots = shots
        self.seed = seed
        self.fold = fold
        self.indices: List[int] = []
        self._metainfo = dict(getattr(self.dataset, 'metainfo', None) or {})
        self._in_place = isinstance(self.dataset, BaseDataset)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's metainfo plus ``data_subset``."""
        return copy.deepcopy(self._metainfo)

    @property
    def pipeline(self):
        """The wrapped dataset's pipeline (``RepeatedAugDataset`` may wrap
        this wrapper and split it)."""
        return self.dataset.pipeline

    @pipeline.setter
    def pipeline(self, value) -> None:
        self.dataset.pipeline = value

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        labels = [_label(self.dataset.get_data_info(i), i)
                  for i in range(len(self.dataset))]
        if not labels:
            raise ValueError('ClassBalancedSubset: the wrapped dataset is '
                             'empty')
        classes = self._metainfo.get('classes')
        num_classes = len(classes) if classes else max(labels) + 1
        subset = balanced_subset_indices(
            labels, num_classes, fraction=self.fraction, shots=self.shots,
            seed=self.seed, fold=self.fold)
        self.indices = subset['indices']
        record = dict(
            fraction=self.fraction, shots=self.shots, seed=self.seed,
            fold=self.fold, num_folds=subset['num_folds'],
            num_samples=len(self.indices), source_samples=len(labels),
            per_class=subset['per_class'],
            indices_checksum='sha256:' + hashlib.sha256(','.join(
                map(str, self.indices)).encode()).hexdigest())
        self._metainfo[SUBSET_META_KEY] = record
        if self._in_place:
            self.dataset.get_subset_(self.indices)
        self._fully_initialized = True
        print_log(self._describe(record), logger='current',
                  level=logging.INFO)

    @staticmethod
    def _describe(record: dict) -> str:
        per_class = record['per_class']
        setting = (f'fraction={record["fraction"]:g}'
                   if record['fraction'] is not None
                   else f'shots={record["shots"]}')
        if len(set(per_class)) == 1:
            counts = f'{per_class[0]} per class ({len(per_class)} classes)'
        else:
            counts = (f'per class (label order, min {min(per_class)}, max '
                      f'{max(per_class)}): {per_class}')
        return (f'ClassBalancedSubset: {setting}, seed={record["seed"]}, '
                f'fold={record["fold"]} (of {record["num_folds"]} disjoint '
                f'folds): {record["num_samples"]} of '
                f'{record["source_samples"]} samples, {counts}')

    def _source_index(self, idx: int) -> int:
        return idx if self._in_place else self.indices[idx]

    def __len__(self) -> int:
        self.full_init()
        return len(self.indices)

    def __getitem__(self, idx: int):
        self.full_init()
        return self.dataset[self._source_index(idx)]

    def get_data_info(self, idx: int) -> dict:
        self.full_init()
        return self.dataset.get_data_info(self._source_index(idx))
