"""Every recipe whose head normalises with batch statistics (``BNLinearHead``,
``MLPHead``, or mmpretrain's ``ClsBatchNormNeck`` before the head) drops the last incomplete training batch, as the reference video
code does: a GPU whose share leaves one clip over would otherwise end the
epoch with a batch of one, which BatchNorm cannot normalise.

Two kinds of recipe keep the last batch on purpose (``drop_last=False``):
the data-scale subsets smaller than one global batch (dropping it would leave
no step at all) and the synthetic demo recipes (tools/run_demo.py sweeps their
training set down to 4 clips, below one batch of 16).
"""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from ..conftest import REPO

CONFIG_ROOT = osp.join(REPO, 'configs')
BATCH_STATISTICS_HEADS = ('BNLinearHead', 'MLPHead')
BATCH_STATISTICS_NECKS = ('ClsBatchNormNeck', )
# Data-scale subsets under one global batch: training clips (config headers).
SUB_STEP = {
    'hmdb51-split1-4shot': 204,
    'hmdb51-split1-16shot': 816,
    'hmdb51-split1-10pct': 357,
    'hmdb51-split1-25pct': 867,
    'ssv2-4shot': 696,
}


def recipes():
    paths = glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    return sorted(
        osp.relpath(p, CONFIG_ROOT) for p in paths
        if '_base_' not in p.split(osp.sep) and
        not osp.basename(p).startswith('_base'))


def innermost_dataset(dataset):
    while 'dataset' in dataset:  # wrappers: subsets, repeated augmentation
        dataset = dataset['dataset']
    return dataset


def sub_step_clips(rel):
    match = re.search(r'_(hmdb51-split1|ssv2)-(\w+)\.py$', rel)
    if rel.startswith('data_scales') and match:
        return SUB_STEP.get(f'{match.group(1)}-{match.group(2)}')
    return None


@pytest.fixture(scope='module')
def batch_statistics_recipes():
    found = {}
    for rel in recipes():
        cfg = Config.fromfile(osp.join(CONFIG_ROOT, rel))
        model = cfg.get('model', {})
        head = model.get('cls_head') or {}
        necks = model.get('neck') or []
        necks = [necks] if isinstance(necks, dict) else necks  # or a list
        if head.get('type') in BATCH_STATISTICS_HEADS or any(
                neck.get('type') in BATCH_STATISTICS_NECKS for neck in necks):
            found[rel] = cfg
    return found


def test_every_batch_statistics_recipe_drops_the_last_batch(
        batch_statistics_recipes):
    # The paper's video recipes, their ablations, the other backbones and
    # datasets, the cross-modality runs, the MLP head: all of them.
    assert len(batch_statistics_recipes) > 150
    keep_last, missing = [], []
    for rel, cfg in batch_statistics_recipes.items():
        loader = cfg.train_dataloader
        synthetic = innermost_dataset(loader.dataset)['type'] == \
            'SyntheticVideoDataset'
        if synthetic or sub_step_clips(rel):
            keep_last.append(rel)
            assert loader.get('drop_last', False) is False, rel
        elif loader.get('drop_last') is not True:
            missing.append(rel)
    assert not missing, (f'train_dataloader.drop_last=True is missing in '
                         f'{len(missing)} config(s): {missing[:5]}')
    assert any(rel.startswith('cross_modality') and rel not in keep_last
               for rel in batch_statistics_recipes)
    assert any('mlp_head' in rel and rel not in keep_last
               for rel in batch_statistics_recipes)
    assert any(rel.startswith('image') and 'swin' in rel
               for rel in batch_statistics_recipes)


def test_recipes_that_keep_the_last_batch_have_under_one_step_of_data(
        batch_statistics_recipes):
    subsets = {rel: sub_step_clips(rel) for rel in batch_statistics_recipes
               if sub_step_clips(rel)}
    assert len(subsets) == len(SUB_STEP)
    for rel, clips in subsets.items():
        gpus, batch = map(int, re.search(r'_(\d+)xb(\d+)-', rel).groups())
        cfg = batch_statistics_recipes[rel]
        assert cfg.train_dataloader.batch_size == batch
        # Fewer clips than one step of every GPU: drop_last would leave none.
        assert clips < gpus * batch, rel
    # The full-data scales are the recipe: they drop it.
    for rel, cfg in batch_statistics_recipes.items():
        if rel.startswith('data_scales') and rel.endswith('-100pct.py'):
            assert cfg.train_dataloader.drop_last is True, rel
