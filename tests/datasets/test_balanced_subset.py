"""ClassBalancedSubset: a class-balanced fraction or k samples per class,
chosen by seed and fold, deterministic, recorded in the log, the metainfo and
task files; bad settings stop at build naming the key, value and valid range.
The data-scale configs build it over fake annotation lists (no videos: with
an empty pipeline a sample is its data info)."""
import functools
import glob
import os.path as osp
import re
from collections import Counter

import numpy as np
import pytest
from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from adaptformer_mm.datasets import ClassBalancedSubset
from adaptformer_mm.datasets import balanced_subset as module
from adaptformer_mm.datasets.balanced_subset import balanced_subset_indices
from adaptformer_mm.peft import set_trainable
from adaptformer_mm.peft.task_file import (make_task_file, read_task_file,
                                           save_task_file)

from ..conftest import REPO

SIZES = (10, 7, 12)  # samples of class 0, 1, 2


def write_list(path, sizes):
    """``c{label}/{i}.mp4 label`` lines, classes interleaved as in a shuffled
    list."""
    lines = [f'c{c}/{i}.mp4 {c}' for i in range(max(sizes))
             for c, n in enumerate(sizes) if i < n]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


@pytest.fixture
def ann_file(tmp_path):
    return write_list(tmp_path / 'train.txt', SIZES)


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, logger=None, level=None:
                        lines.append((level, msg)))
    return lines


def video_list(ann_file, **kwargs):
    # serialize_data=False: mmengine's serialisation runs gc.collect(), a
    # second per dataset in a process that imported torch and mmaction.
    return VideoDataset(ann_file=ann_file, pipeline=[], serialize_data=False,
                        **kwargs)


def subset(ann_file, **kwargs):
    return ClassBalancedSubset(video_list(ann_file), **kwargs)


def files(dataset):
    return [dataset[i]['filename'] for i in range(len(dataset))]


def labels(dataset):
    return Counter(dataset[i]['label'] for i in range(len(dataset)))


def test_k_shots_per_class_deterministic_disjoint_folds(ann_file, logged):
    first = subset(ann_file, shots=2, seed=0, fold=1)
    assert labels(first) == {0: 2, 1: 2, 2: 2}
    # Same settings, same samples; samples keep the list's order.
    assert files(subset(ann_file, shots=2, seed=0, fold=1)) == files(first)
    order = [f'c{c}/{i}.mp4' for i in range(12) for c in range(3)]
    assert files(first) == sorted(files(first), key=order.index)
    # The folds of a seed are disjoint: 7 // 2 = 3 of them.
    folds = [set(files(subset(ann_file, shots=2, fold=f))) for f in range(3)]
    assert len(set.union(*folds)) == 3 * 6
    assert files(subset(ann_file, shots=2, seed=1, fold=1)) != files(first)
    level, line = logged[0]
    assert level == module.logging.INFO
    assert line == ('ClassBalancedSubset: shots=2, seed=0, fold=1 (of 3 '
                    'disjoint folds): 6 of 29 samples, 2 per class (3 '
                    'classes)')


def test_fraction_keeps_the_same_share_of_every_class(ann_file, logged):
    half = subset(ann_file, fraction=0.5, seed=3)
    assert labels(half) == {0: 5, 1: 3, 2: 6}  # floor(0.5 n)
    other = subset(ann_file, fraction=0.5, seed=3, fold=1)
    assert not set(files(half)) & set(files(other))
    assert logged[0][1].endswith(
        '14 of 29 samples, per class (label order, min 3, max 6): [5, 3, 6]')
    # All of it: every sample, in the list's order.
    full = subset(ann_file, fraction=1.0)
    assert files(full) == files(video_list(ann_file))


def test_fraction_is_read_as_written_and_small_classes_wrap():
    # 0.29 * 100 is 28.999999999999996 in floating point.
    kept = balanced_subset_indices([0] * 100, 1, fraction=0.29)
    assert len(kept['indices']) == 29 and kept['num_folds'] == 3
    # A class of 3 samples at 10%: one sample per fold, 10 folds, repeating.
    picks = [balanced_subset_indices([0] * 3, 1, fraction=0.1, fold=f)
             ['indices'] for f in range(10)]
    assert all(len(p) == 1 for p in picks)
    assert {p[0] for p in picks} == {0, 1, 2}


def test_recorded_in_metainfo_and_task_file(ann_file, tmp_path):
    dataset = subset(ann_file, shots=3, seed=2, fold=1)
    record = dataset.metainfo['data_subset']
    assert {k: record[k] for k in ('fraction', 'shots', 'seed', 'fold',
                                   'num_folds', 'num_samples',
                                   'source_samples', 'per_class')} == dict(
        fraction=None, shots=3, seed=2, fold=1, num_folds=2, num_samples=9,
        source_samples=29, per_class=[3, 3, 3])
    assert record['indices_checksum'].startswith('sha256:')
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    set_trainable(model, lambda n: n.startswith('1.'))
    task = make_task_file(model, dataset_meta=dataset.metainfo)
    path = save_task_file(task, str(tmp_path / 'task.pth'))
    assert read_task_file(path).meta['data_subset'] == record
    # A full training set records nothing.
    assert 'data_subset' not in make_task_file(
        model, dataset_meta={'classes': ['a']}).meta


def test_registered_for_video_and_image_configs(ann_file):
    # The default serialized data list, cut in place.
    dataset = DATASETS.build(dict(
        type='ClassBalancedSubset', shots=4,
        dataset=dict(type='VideoDataset', ann_file=ann_file, pipeline=[])))
    assert isinstance(dataset, ClassBalancedSubset) and len(dataset) == 12
    # The wrapped dataset is cut in place: its own indexing (e.g.
    # CheckedVideoDataset's replacement of a bad sample) stays in the subset.
    assert len(dataset.dataset) == 12
    assert files(dataset.dataset) == files(dataset)
    from mmpretrain.registry import DATASETS as IMAGE_DATASETS
    assert IMAGE_DATASETS.get('ClassBalancedSubset') is ClassBalancedSubset


class Listed:
    """A dataset that is not an mmengine BaseDataset."""

    def __init__(self, ann_file):
        self.inner = video_list(ann_file)
        self.metainfo = {}

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, idx):
        return self.inner[idx]

    def get_data_info(self, idx):
        return self.inner.get_data_info(idx)


def test_other_datasets_are_indexed_through_the_kept_positions(ann_file):
    mapped = ClassBalancedSubset(Listed(ann_file), shots=2, fold=2)
    assert files(mapped) == files(subset(ann_file, shots=2, fold=2))
    assert len(mapped.dataset) == 29


class ImageLike(Listed):
    """mmpretrain's layout: ``gt_label`` (an integer array) and classes."""

    def __init__(self, ann_file):
        super().__init__(ann_file)
        self.metainfo = dict(classes=('a', 'b', 'c', 'd'))

    def get_data_info(self, idx):
        return dict(gt_label=np.array(self.inner[idx]['label']))


def test_mmpretrain_labels_and_metainfo_classes(ann_file):
    image = ClassBalancedSubset(ImageLike(ann_file), fraction=0.5)
    # Class 'd' (label 3) has no sample: it keeps none at a fraction ...
    assert image.metainfo['data_subset']['per_class'] == [5, 3, 6, 0]
    assert image.metainfo['classes'] == ('a', 'b', 'c', 'd')
    # ... and makes k shots impossible.
    with pytest.raises(ValueError, match=r'label 3 \(of 4 classes\) has '
                       'none'):
        ClassBalancedSubset(ImageLike(ann_file), shots=1)


def test_lazy_init_and_pipeline_of_the_wrapped_dataset(ann_file, logged):
    lazy = subset(ann_file, shots=2, lazy_init=True)
    assert not logged and 'data_subset' not in lazy.metainfo
    assert len(lazy) == 6 and len(logged) == 1
    # RepeatedAugDataset may wrap the subset: it splits the inner pipeline.
    assert lazy.pipeline is lazy.dataset.pipeline
    lazy.pipeline = 'split'
    assert lazy.dataset.pipeline == 'split'


@pytest.mark.parametrize('kwargs, message', [
    (dict(shots=8), r'shots=8 is larger than the smallest class \(label 1: '
     r'7 samples\); valid range: 1 <= shots <= 7'),
    (dict(shots=0), r'shots=0; valid range: 1 <= shots <= 7'),
    (dict(fraction=0), r'fraction=0 is outside the valid range \(0, 1\]'),
    (dict(fraction=1.5), r'fraction=1.5 is outside the valid range \(0, 1\]'),
    (dict(shots=2, fold=3), r'fold=3 is out of range for shots=2 \(3 '
     r'disjoint fold\(s\)\); valid range: 0 <= fold < 3'),
    (dict(fraction=0.25, fold=-1), r'fold=-1 is out of range for '
     r'fraction=0.25 \(4 disjoint fold\(s\)\); valid range: 0 <= fold < 4'),
    (dict(fraction=1.0, fold=1), r'valid range: 0 <= fold < 1'),
    (dict(), r'give exactly one of fraction .* got fraction=None, '
     r'shots=None'),
    (dict(fraction=0.5, shots=2), r'give exactly one of fraction'),
    (dict(shots=2, seed=-1), r'seed=-1; valid: an int >= 0'),
])
def test_bad_settings_name_key_value_and_range(ann_file, kwargs, message):
    with pytest.raises(ValueError, match=message):
        subset(ann_file, **kwargs)


def test_multi_label_and_empty_classes_are_refused(tmp_path):
    multi = tmp_path / 'multi.txt'
    multi.write_text('a.mp4 0 1\nb.mp4 1 2\n')
    with pytest.raises(ValueError, match=r'sample 0 has label .*; a '
                       'class-balanced subset needs one integer label'):
        ClassBalancedSubset(video_list(
            str(multi), multi_class=True,
            num_classes=3), shots=1)
    gap = write_list(tmp_path / 'gap.txt', (2, 0, 2))
    with pytest.raises(ValueError, match='label 1 .* has none'):
        subset(gap, shots=1)
    assert labels(subset(gap, fraction=0.5)) == {0: 1, 2: 1}


# ------------------------------------------------------ data-scale configs
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'data_scales', '*',
                                    '*.py')))
# Clips per class of the real training lists (HMDB51 split 1: exactly 70;
# SSv2: 100 stands in for "enough"); 8 classes keep the fake lists small.
PER_CLASS = {'hmdb51-split1': 70, 'ssv2': 100}


def test_every_scale_has_a_config():
    names = [osp.basename(c) for c in CONFIGS]
    scales = {'10pct', '25pct', '50pct', '100pct', '4shot', '16shot'}
    for dataset in PER_CLASS:
        found = {re.search(rf'_{dataset}-(\w+)\.py$', n).group(1)
                 for n in names if f'_{dataset}-' in n}
        # HMDB51 split 1 has 70 training clips per class: no 100-shot.
        assert found == scales | ({'100shot'} if dataset == 'ssv2' else set())


@functools.lru_cache()
def full_data_config(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'adaptformer', name))


@pytest.fixture(scope='module')
def fake_lists(tmp_path_factory):
    root = tmp_path_factory.mktemp('lists')
    return {name: write_list(root / f'{name}.txt', (n,) * 8)
            for name, n in PER_CLASS.items()}


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c)
                                               for c in CONFIGS])
def test_config_wraps_its_base_train_set_only(path, fake_lists, logged):
    rel = osp.basename(path)
    dataset = next(d for d in PER_CLASS if f'_{d}-' in rel)
    cfg = Config.fromfile(path)
    parent = full_data_config(rel.split(f'_{dataset}-')[0] +
                              f'_{dataset}.py')
    wrapper = cfg.train_dataloader.dataset
    assert wrapper.type == 'ClassBalancedSubset'
    assert (wrapper.seed, wrapper.fold) == (0, 0)
    assert wrapper.dataset == parent.train_dataloader.dataset
    for key in ('model', 'optim_wrapper', 'val_dataloader', 'test_dataloader',
                'train_cfg', 'param_scheduler'):
        assert cfg[key] == parent[key], key
    value, unit = re.search(r'-(\d+)(pct|shot)\.py$', rel).groups()
    if unit == 'pct':
        assert wrapper.fraction == int(value) / 100 and 'shots' not in wrapper
        expected = int(value) * PER_CLASS[dataset] // 100
    else:
        # a shots config inherits the folder's 100% config: no fraction
        assert wrapper.shots == int(value) and wrapper.fraction is None
        expected = int(value)
    wrapper.dataset.update(ann_file=fake_lists[dataset], pipeline=[],
                           serialize_data=False)
    built = DATASETS.build(wrapper)
    assert built.metainfo['data_subset']['per_class'] == [expected] * 8
