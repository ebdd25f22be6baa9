"""Feature files, the dataset over them, the probe (the recipes' heads
trained by an mmengine Runner), view averaging and the split's dataloader
(the whole tool on synthetic video: tests/tools/test_extract_features.py)."""
import copy
import os.path as osp
import tempfile

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

from adaptformer_mm.analysis.features import (CachedFeatureDataset,
                                              FeatureSet, feature_key,
                                              pooled_features, same_samples,
                                              split_dataloader_cfg,
                                              train_probe)
from adaptformer_mm.models.heads import BNLinearHead, MLPHead


# Tiny tensors: one torch thread (conftest.py).
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def blobs(n_per_class=40, classes=3, dims=16, seed=0, spread=0.3):
    """Gaussian blobs around random class centres."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dims, generator=g) * 3
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    features = centres[labels] + spread * torch.randn(
        len(labels), dims, generator=g)
    return FeatureSet(features, labels, dict(classes=['a', 'b', 'c']))


def test_file_round_trip_and_dataset(tmp_path):
    data = blobs()
    path = str(tmp_path / 'sub' / 'val.pth')
    data.save(path)
    back = FeatureSet.load(path)
    assert torch.equal(back.features, data.features)
    assert torch.equal(back.labels, data.labels)
    assert back.classes == ['a', 'b', 'c']
    dataset = CachedFeatureDataset(path)
    x, y = dataset[41]
    assert len(dataset) == 120 and torch.equal(x, data.features[41])
    assert y == 1
    torch.save({'state_dict': {}}, tmp_path / 'ckpt.pth')
    with pytest.raises(ValueError, match='is not a feature file'):
        FeatureSet.load(str(tmp_path / 'ckpt.pth'))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r'features must be \(N, d\)'):
        FeatureSet(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))


def linear_rule(n, dims=16, classes=3, seed=0):
    """``n`` features labelled by the argmax of one fixed random linear map
    (``seed`` draws the features): linearly separable by construction, but
    with no margin to speak of, unlike :func:`blobs`."""
    weight = torch.randn(classes, dims,
                         generator=torch.Generator().manual_seed(99))
    features = torch.randn(n, dims,
                           generator=torch.Generator().manual_seed(100 + seed))
    labels = (features @ weight.T).argmax(1)
    return FeatureSet(features, labels, dict(classes=['a', 'b', 'c']))


PROBE = dict(epochs=20, lr=1e-2, batch_size=64)


@pytest.mark.parametrize('hidden_layers', [0, 1])
def test_probe_learns_a_linearly_separable_rule(hidden_layers):
    train, val = linear_rule(300, seed=0), linear_rule(300, seed=1)
    _, untrained = train_probe(train, val, hidden_layers=hidden_layers,
                               **dict(PROBE, epochs=0))
    _, top1 = train_probe(train, val, hidden_layers=hidden_layers, **PROBE)
    # 3 classes; the most common is 40% of val. Untrained: 0.39 and 0.38;
    # trained: 0.92 either way.
    assert untrained < 0.5
    assert top1 > 0.85


def test_probe_is_the_recipes_head():
    train, val = blobs(), blobs(n_per_class=10)
    linear, _ = train_probe(train, val, **dict(PROBE, epochs=1))
    assert type(linear) is BNLinearHead
    assert (linear.in_channels, linear.num_classes) == (16, 3)
    mlp, _ = train_probe(train, val, hidden_layers=2, hidden_dims=8,
                         **dict(PROBE, epochs=1))
    assert type(mlp) is MLPHead
    assert (mlp.mlp_cfg.num_layers, mlp.mlp_cfg.hidden_dims) == (3, 8)
    assert not mlp.training  # returned as evaluated
    with pytest.raises(ValueError, match='hidden_layers must be >= 0'):
        train_probe(train, val, hidden_layers=-1)


def test_probe_is_deterministic_for_a_seed():
    train, val = linear_rule(200), linear_rule(60, seed=1)

    def weights(seed):
        head, _ = train_probe(train, val, hidden_layers=1, seed=seed,
                              **dict(PROBE, epochs=3))
        return head.state_dict()

    first, again, other = weights(0), weights(0), weights(1)
    assert first.keys() == again.keys()
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert not torch.equal(first['mlp.fc_cls.weight'],
                           other['mlp.fc_cls.weight'])


def test_probe_leaves_nothing_behind(tmp_path, monkeypatch):
    """No file outside a temporary work dir, itself removed; no global
    logger."""
    cwd, tmp = tmp_path / 'cwd', tmp_path / 'tmp'
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp))
    made, mkdtemp = [], tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, 'mkdtemp', recording_mkdtemp)
    logger = MMLogger.get_current_instance()
    train_probe(blobs(), blobs(n_per_class=10), **dict(PROBE, epochs=2))
    assert made and all(osp.dirname(d) == str(tmp) for d in made)
    assert list(cwd.iterdir()) == [] and list(tmp.iterdir()) == []
    # Nor does it leave its (WARNING-level) logger as the current one.
    assert MMLogger.get_current_instance() is logger


def test_probe_refuses_features_of_another_width():
    train, val = blobs(), blobs(dims=8)
    with pytest.raises(ValueError, match='differ in width: 16 vs 8'):
        train_probe(train, val)


class FakeRecognizer(nn.Module):
    """An mmaction2-like model: ``cls_head`` and a backbone that pools."""

    def __init__(self):
        super().__init__()
        self.cls_head = nn.Identity()

    def backbone(self, x):
        return x.flatten(1)[:, :3]


def test_views_of_a_video_are_averaged():
    inputs = torch.arange(2 * 4 * 3, dtype=torch.float).reshape(2, 4, 3)
    out = pooled_features(FakeRecognizer(), inputs)
    torch.testing.assert_close(out, inputs.mean(1))


def test_an_image_classifier_gives_its_last_output():
    class FakeClassifier(nn.Module):  # mmpretrain: no views, tuple outputs
        def backbone(self, x):
            return (x.flatten(1)[:, :2], x.flatten(1)[:, :3])

    inputs = torch.randn(2, 3, 4, 4)
    out = pooled_features(FakeClassifier(), inputs)
    torch.testing.assert_close(out, inputs.flatten(1)[:, :3])


def test_a_feature_map_is_refused():
    model = FakeRecognizer()
    model.backbone = lambda x: x
    with pytest.raises(ValueError, match='not pooled'):
        pooled_features(model, torch.zeros(2, 1, 3, 4, 4))


def test_a_swin_feature_map_is_averaged_over_its_grid():
    class WindowsBackbone(nn.Module):  # a hierarchical (Swin) family
        token_layout = 'windows'

        def forward(self, x):
            return x

    class SwinRecognizer(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls_head = nn.Identity()
            self.backbone = WindowsBackbone()

    model = SwinRecognizer()
    inputs = torch.randn(2, 3, 5, 2, 4, 4)  # 2 videos x 3 views, C=5
    out = pooled_features(model, inputs)
    expected = inputs.flatten(3).mean(-1).mean(1)  # grid, then views
    torch.testing.assert_close(out, expected)


def test_same_samples_names_the_odd_file():
    a, b = blobs(), blobs()
    assert torch.equal(same_samples([a, b], ['a', 'b']), a.labels)
    b.labels = b.labels.flip(0)
    with pytest.raises(ValueError, match='b is not the same samples as a'):
        same_samples([a, b], ['a', 'b'])


def test_train_split_reads_its_annotations_through_the_val_pipeline():
    cfg = Config(dict(
        train_dataloader=dict(
            batch_size=8, num_workers=2, persistent_workers=True,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='RepeatedAugDataset', num_repeats=2,
                         dataset=dict(type='VideoDataset', ann_file='train',
                                      pipeline=[dict(type='Flip')]))),
        val_dataloader=dict(
            batch_size=4,
            dataset=dict(type='VideoDataset', ann_file='val',
                         pipeline=[dict(type='CenterCrop')]))))
    loader = split_dataloader_cfg(cfg, 'train', batch_size=2, num_workers=0)
    assert loader['dataset'] == dict(type='VideoDataset', ann_file='train',
                                     pipeline=[dict(type='CenterCrop')])
    assert loader['sampler'] == dict(type='DefaultSampler', shuffle=False)
    assert (loader['batch_size'], loader['num_workers'],
            loader['persistent_workers']) == (2, 0, False)
    assert cfg.train_dataloader.dataset.type == 'RepeatedAugDataset'
    with pytest.raises(KeyError, match='has no test_dataloader'):
        split_dataloader_cfg(cfg, 'test')
    with pytest.raises(ValueError, match='split must be one of'):
        split_dataloader_cfg(cfg, 'dev')


def test_train_split_of_a_data_scale_config_keeps_its_subset():
    """The subset stays (its features are of the kept clips); the val
    pipeline goes into the video dataset inside it."""
    video = dict(type='VideoDataset', ann_file='train',
                 pipeline=[dict(type='Flip')])
    cfg = Config(dict(
        train_dataloader=dict(
            batch_size=8,
            dataset=dict(type='ClassBalancedSubset', shots=4, seed=0, fold=0,
                         dataset=video)),
        val_dataloader=dict(
            batch_size=4,
            dataset=dict(type='VideoDataset', ann_file='val',
                         pipeline=[dict(type='CenterCrop')]))))
    loader = split_dataloader_cfg(cfg, 'train', num_workers=0)
    assert loader['dataset'] == dict(
        type='ClassBalancedSubset', shots=4, seed=0, fold=0,
        dataset=dict(video, pipeline=[dict(type='CenterCrop')]))
    assert cfg.train_dataloader.dataset.dataset.pipeline == [
        dict(type='Flip')]


def wrapped_cfg(**changes):
    """A training set as the fast data-scale recipes write it: repeated
    augmentation over a class-balanced subset of a video list. ``changes``:
    ``'dotted.key': value`` (None deletes the key)."""
    cfg = dict(
        model=dict(type='Recognizer3D'),
        train_dataloader=dict(
            batch_size=8, drop_last=True,
            collate_fn=dict(type='repeated_aug_collate'),
            dataset=dict(
                type='RepeatedAugDataset', num_repeats=2,
                dataset=dict(
                    type='ClassBalancedSubset', shots=4, seed=0, fold=0,
                    dataset=dict(type='VideoDataset', ann_file='train',
                                 pipeline=[dict(type='DecordDecode'),
                                           dict(type='Flip')])))),
        val_dataloader=dict(
            batch_size=4,
            dataset=dict(type='VideoDataset', ann_file='val',
                         pipeline=[dict(type='DecordDecode'),
                                   dict(type='CenterCrop')])))
    for key, value in changes.items():
        *path, last = key.split('.')
        node = cfg
        for part in path:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return Config(cfg)


def test_train_split_drops_the_repeat_wrapper_with_its_collate():
    """And every sample is read: a recipe's drop_last goes too."""
    cfg = wrapped_cfg()
    loader = split_dataloader_cfg(cfg, 'train')
    assert 'collate_fn' not in loader  # the Runner's default again
    assert 'drop_last' not in loader  # every sample
    assert loader['dataset'] == dict(
        type='ClassBalancedSubset', shots=4, seed=0, fold=0,
        dataset=dict(type='VideoDataset', ann_file='train',
                     pipeline=[dict(type='DecordDecode'),
                               dict(type='CenterCrop')]))
    # A collate function of the loader's own choosing stays.
    cfg = wrapped_cfg(**{'train_dataloader.collate_fn': dict(
        type='default_collate')})
    assert split_dataloader_cfg(cfg, 'train')['collate_fn'] == dict(
        type='default_collate')


def test_the_key_covers_everything_that_defines_the_data():
    """Each change of the wrappers, the pipeline, the subset, its fold or
    its seed gives another key; the batch size and workers do not."""

    def key(cfg, split='train'):
        return feature_key(cfg, split_dataloader_cfg(cfg, split), 'sha',
                           split, False)

    inner = 'train_dataloader.dataset.dataset'
    unwrapped = copy.deepcopy(wrapped_cfg().train_dataloader.dataset.dataset)
    changes = {
        'no repeat wrapper': {'train_dataloader.dataset': unwrapped},
        'repeats': {'train_dataloader.dataset.num_repeats': 3},
        'val pipeline (read)': {'val_dataloader.dataset.pipeline': [
            dict(type='DecordDecode'), dict(type='ThreeCrop')]},
        'train pipeline (written)': {f'{inner}.dataset.pipeline': [
            dict(type='DecordDecode')]},
        'subset': {f'{inner}.shots': 2},
        'fold': {f'{inner}.fold': 1},
        'seed': {f'{inner}.seed': 1},
    }
    base = key(wrapped_cfg())
    keys = {name: key(wrapped_cfg(**change))
            for name, change in changes.items()}
    assert base not in keys.values(), keys
    assert len(set(keys.values())) == len(keys)
    assert key(wrapped_cfg(**{'train_dataloader.batch_size': 2})) == base
    assert split_dataloader_cfg(wrapped_cfg(), 'train', num_workers=4)[
        'num_workers'] == 4
    assert feature_key(
        wrapped_cfg(), split_dataloader_cfg(wrapped_cfg(), 'train',
                                            batch_size=1, num_workers=4),
        'sha', 'train', False) == base
    # The val split's key does not depend on the training set.
    assert key(wrapped_cfg(**{f'{inner}.seed': 1}), 'val') == key(
        wrapped_cfg(), 'val')
