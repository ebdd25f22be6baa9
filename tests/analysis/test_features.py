"""Feature files, the dataset over them, the probe, view averaging and the
split's dataloader (the whole tool on synthetic video:
tests/tools/test_extract_features.py)."""
import copy

import pytest
import torch
from mmengine.config import Config
from torch import nn

from adaptformer_mm.analysis.features import (CachedFeatureDataset, FeatureSet,
                                           feature_key, pooled_features,
                                           probe_head, same_samples,
                                           split_dataloader_cfg, train_probe)


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


@pytest.mark.parametrize('hidden_layers', [0, 1])
def test_probe_learns_separable_features_in_a_blink(hidden_layers):
    train, val = blobs(seed=0), blobs(seed=0, n_per_class=10)
    val.features += 0.1 * torch.randn_like(val.features)
    head, top1 = train_probe(train, val, hidden_layers=hidden_layers,
                             epochs=30, lr=1e-2, batch_size=32)
    assert top1 == 1.0
    linears = [m for m in head if isinstance(m, nn.Linear)]
    assert len(linears) == hidden_layers + 1
    assert isinstance(head[0], nn.BatchNorm1d) and not head[0].affine


def test_probe_head_is_the_mae_linear_probe():
    head = probe_head(8, 5)
    assert [type(m) for m in head] == [nn.BatchNorm1d, nn.Linear]
    assert head[0].eps == 1e-6
    with pytest.raises(ValueError, match='hidden_layers must be >= 0'):
        probe_head(8, 5, hidden_layers=-1)


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
