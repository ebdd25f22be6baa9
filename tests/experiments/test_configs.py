"""Methods from config files: the checks before any stage starts, method
keys, and data sizes through ClassBalancedSubset
(adaptformer_mm/experiments/configs.py)."""
import os.path as osp

import pytest
from mmengine.config import Config

from adaptformer_mm.experiments import ComparisonError
from adaptformer_mm.experiments.configs import (check_agree, check_config,
                                                data_size_options,
                                                method_keys,
                                                parse_data_sizes,
                                                read_config, task_name)
from adaptformer_mm.experiments.stages import merged_config
from adaptformer_mm.datasets.pipeline import unwrap_dataset_cfg

from ..conftest import REPO

RECIPE = '_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_hmdb51-split1.py'
HMDB51 = [osp.join(REPO, 'configs', folder, method + RECIPE)
          for folder, method in (('linear_probe', 'linear-probe'),
                                 ('vpt', 'vpt-deep-1'),
                                 ('adaptformer', 'adaptformer-64'),
                                 ('full_finetune', 'full-finetune'))]
SSV2 = osp.join(REPO, 'configs', 'adaptformer', 'adaptformer-64'
                '_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py')
SHOTS_16 = osp.join(REPO, 'configs', 'data_scales', 'adaptformer_hmdb51-'
                    'split1', 'adaptformer-64_vit-base-p16_videomae-k400-'
                    'pre_8xb128-8x4x1-90e_hmdb51-split1-16shot.py')


def child(tmp_path, name, parent, text):
    path = tmp_path / name
    path.write_text(f'_base_ = [{parent!r}]\n{text}')
    return str(path)


def test_the_four_hmdb51_recipes_side_by_side():
    cfgs = [read_config(p) for p in HMDB51]
    for path, cfg in zip(HMDB51, cfgs):
        check_config(path, cfg)
    check_agree(HMDB51, cfgs)
    assert method_keys(HMDB51) == ['linear-probe', 'vpt-deep-1',
                                   'adaptformer-64', 'full-finetune']
    assert task_name(HMDB51, cfgs) == 'hmdb51-split1'


@pytest.mark.parametrize('name, text, message', [
    ('bad_backbone.py', "model = dict(backbone=dict(type='NoSuchViT'))\n",
     "model.backbone.type='NoSuchViT' is not a registered type in scope "
     "'mmaction'"),
    ('bad_dataset.py',
     "val_dataloader = dict(dataset=dict(type='NoSuchDataset'))\n",
     "val_dataloader.dataset.type='NoSuchDataset'"),
    ('no_test.py', 'test_evaluator = None\n', 'no `test_evaluator`; a '
     'comparison needs'),
])
def test_a_config_that_would_not_build_is_named(tmp_path, name, text,
                                                message):
    path = child(tmp_path, name, HMDB51[0], text)
    cfg = read_config(path)
    with pytest.raises(ComparisonError) as exc:
        check_config(path, cfg)
    assert str(exc.value).startswith(f'{path}: ') and message in str(
        exc.value)


def test_missing_keys_and_unreadable_files_are_named(tmp_path):
    plain = tmp_path / 'plain.py'
    plain.write_text("model = dict(type='Recognizer3D')\n")
    with pytest.raises(ComparisonError, match=r'plain.py: no '
                       r'`train_dataloader.dataset`; a comparison needs'):
        check_config(str(plain), read_config(str(plain)))
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    with pytest.raises(ComparisonError, match='broken.py: cannot be read as '
                       'a config'):
        read_config(str(broken))
    with pytest.raises(ComparisonError, match='nothere.py: no such config'):
        read_config(str(tmp_path / 'nothere.py'))


def test_configs_that_disagree_on_data_or_classes(tmp_path):
    with pytest.raises(ComparisonError) as exc:
        check_agree([HMDB51[0], SSV2], [read_config(HMDB51[0]),
                                        read_config(SSV2)])
    assert f'{SSV2} and {HMDB51[0]} disagree on the training data: ' \
        'train_dataloader.dataset.ann_file' in str(exc.value)
    fifty = child(tmp_path, 'lin_fifty.py', HMDB51[0],
                  'model = dict(cls_head=dict(num_classes=50))\n')
    with pytest.raises(ComparisonError) as exc:
        check_agree([HMDB51[2], fifty], [read_config(HMDB51[2]),
                                         read_config(fifty)])
    assert 'disagree on the number of classes: model.cls_head.num_classes' \
        '=50, model.cls_head.num_classes=51' in str(exc.value)
    # a data-scale config trains on the same list, inside its wrapper
    check_agree([HMDB51[2], SHOTS_16], [read_config(HMDB51[2]),
                                        read_config(SHOTS_16)])


def test_method_keys_from_file_names(tmp_path):
    paths = [str(tmp_path / n) for n in ('my_a.py', 'my_b.py', 'lora_x.py')]
    assert method_keys(paths) == ['my_a', 'my_b', 'lora']
    with pytest.raises(ComparisonError, match='have the same file name'):
        method_keys([paths[0], str(tmp_path / 'other' / 'my_a.py')])


@pytest.mark.parametrize('values, expected', [
    (['16', '4'], ((16, 4), 'shots')),
    (['0.1', '1.0'], ((0.1, 1.0), 'fraction')),
])
def test_data_sizes(values, expected):
    assert parse_data_sizes(values) == expected


@pytest.mark.parametrize('values, message', [
    (['4', '0.5'], 'mixes samples per class'),
    (['0'], 'samples per class must be >= 1'),
    (['1.5'], r'fractions must be in \(0, 1\]'),
    (['many'], "'many' is not a number"),
    (['4', '4'], 'give each once'),
])
def test_bad_data_sizes_name_the_flag(values, message):
    with pytest.raises(ComparisonError, match='--data-sizes: .*' + message):
        parse_data_sizes(values)


def build_train_set(cfg, tmp_path):
    """The training set of a merged config on a 3-class list of 5 clips
    each (the files are not read when a VideoDataset is built)."""
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope
    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'v{i}.mp4 {i % 3}\n' for i in range(15)))
    inner, _ = unwrap_dataset_cfg(cfg.train_dataloader.dataset)
    inner.ann_file = str(ann)
    init_default_scope('mmaction')
    return DATASETS.build(cfg.train_dataloader.dataset)


def test_a_size_wraps_a_plain_training_set(tmp_path):
    cfg = Config.fromfile(HMDB51[2])
    options = data_size_options(cfg, 4)
    merged = merged_config(HMDB51[2], options)
    assert merged.train_dataloader.drop_last is False
    dataset = build_train_set(merged, tmp_path)
    assert len(dataset) == 3 * 4
    assert dataset.metainfo['data_subset']['per_class'][:3] == [4, 4, 4]
    fraction = merged_config(HMDB51[2], data_size_options(cfg, 0.4))
    assert len(build_train_set(fraction, tmp_path)) == 3 * 2


def test_a_size_replaces_the_size_of_a_subset_config(tmp_path):
    cfg = Config.fromfile(SHOTS_16)
    merged = merged_config(SHOTS_16, data_size_options(cfg, 2))
    _, chain = unwrap_dataset_cfg(merged.train_dataloader.dataset)
    assert [level.type for level in chain] == ['ClassBalancedSubset']
    assert chain[0].dataset['shots'] == 2
    assert len(build_train_set(merged, tmp_path)) == 3 * 2
