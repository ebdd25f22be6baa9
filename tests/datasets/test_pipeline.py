"""The dataset inside any wrapper, from a config or a built dataset: the
same object, the wrappers outermost first, and which collate function and
pipeline steps belong to each level."""
import copy

import pytest
from mmengine.registry import init_default_scope

from adaptformer_mm.datasets import generate_synthetic_dataset
from adaptformer_mm.datasets.pipeline import (innermost_dataset_cfg, step_name,
                                           unwrap_dataset, unwrap_dataset_cfg)

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


def nested(video):
    return dict(type='RepeatedAugDataset', num_repeats=2,
                dataset=dict(type='ClassBalancedSubset', shots=1, seed=3,
                             dataset=video))


def test_a_config_is_unwrapped_to_the_same_dict():
    video = dict(type='VideoDataset', ann_file='list.txt', pipeline=PIPELINE)
    cfg = nested(video)
    inner, chain = unwrap_dataset_cfg(cfg, 'train_dataloader.dataset')
    assert inner is video
    assert [level.type for level in chain] == ['RepeatedAugDataset',
                                               'ClassBalancedSubset']
    assert [level.key for level in chain] == [
        'train_dataloader.dataset', 'train_dataloader.dataset.dataset']
    assert chain[-1].inner_key == 'train_dataloader.dataset.dataset.dataset'
    assert [level.collate_fn for level in chain] == ['repeated_aug_collate',
                                                     None]
    # The repeat wrapper runs what follows the decode; the subset nothing.
    assert chain[0].pipeline == PIPELINE[3:] and chain[1].pipeline is None
    assert [level.role.repeats for level in chain] == [True, False]
    assert str(chain[1]) == ('ClassBalancedSubset(shots=1, seed=3) at '
                             'train_dataloader.dataset.dataset')
    inner['ann_file'] = 'other.txt'
    assert cfg['dataset']['dataset']['ann_file'] == 'other.txt'
    assert innermost_dataset_cfg(cfg) is video
    assert unwrap_dataset_cfg(video) == (video, [])


def test_any_wrapper_is_walked_and_several_datasets_stop_the_walk():
    video = dict(type='VideoDataset', ann_file='a')
    cfg = dict(type='mmengine.RepeatDataset', times=3,
               dataset=dict(type='SomeoneElsesWrapper', dataset=video))
    inner, chain = unwrap_dataset_cfg(cfg)
    assert inner is video
    assert [(lv.type, lv.role.repeats) for lv in chain] == [
        ('RepeatDataset', True), ('SomeoneElsesWrapper', False)]
    concat = dict(type='ConcatDataset', datasets=[video, video])
    assert unwrap_dataset_cfg(concat) == (concat, [])


def test_a_repeat_wrapper_without_a_decode_step_is_named():
    cfg = dict(type='RepeatedAugDataset',
               dataset=dict(type='VideoDataset', pipeline=[dict(type='Flip')]))
    inner, chain = unwrap_dataset_cfg(cfg)  # reading it is fine
    with pytest.raises(ValueError, match=r"\['Flip'\] has no \*Decode"):
        chain[0].pipeline


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    return generate_synthetic_dataset(
        str(tmp_path_factory.mktemp('unwrap') / 'clips'), num_train=8,
        num_val=4)


def test_a_built_dataset_splits_its_pipeline_as_the_config_says(clips):
    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    cfg = nested(dict(type='VideoDataset', ann_file=clips['train_list'],
                      data_prefix=dict(video=clips['root']),
                      pipeline=PIPELINE))
    _, config_chain = unwrap_dataset_cfg(copy.deepcopy(cfg))
    dataset = DATASETS.build(cfg)
    inner, chain = unwrap_dataset(dataset)
    assert type(inner).__name__ == 'VideoDataset'
    assert [level.dataset for level in chain] == [dataset, dataset.dataset]
    assert [level.type for level in chain] == [
        level.type for level in config_chain]
    assert chain[0].collate_fn == 'repeated_aug_collate'
    # Each level runs the steps its config level was given.
    assert [step_name(t) for t in chain[0].pipeline.transforms] == [
        step_name(t) for t in config_chain[0].pipeline]
    assert [step_name(t) for t in inner.pipeline.transforms] == [
        step_name(t) for t in PIPELINE[:3]]
    assert chain[1].pipeline is None
    assert unwrap_dataset(inner) == (inner, [])


def test_step_name_strips_the_scope_and_is_the_datasets_one():
    import torch

    from adaptformer_mm.datasets import repeated_aug
    from adaptformer_mm.datasets.pipeline import step_name
    assert repeated_aug.step_name is step_name
    assert step_name(dict(type='mmaction.Resize')) == 'Resize'
    assert step_name(torch.nn.Identity()) == 'Identity'
