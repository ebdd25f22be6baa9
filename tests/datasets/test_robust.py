"""CheckedVideoDataset's load errors name what is known of the sample: the
list's line when the sample came from the list, never a line it lacks.
(The list checks and skipping: tests/reliability/test_bad_data.py.)"""
import os.path as osp

import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

from adaptformer_mm.datasets.robust import BadSampleError
from adaptformer_mm.datasets.synthetic import generate_synthetic_dataset

PIPELINE = [dict(type='DecordInit'), dict(type='SampleFrames', clip_len=4),
            dict(type='DecordDecode')]


@pytest.fixture(scope='module')
def truncated(tmp_path_factory):
    """A list of one video cut short (its header gone)."""
    root = str(tmp_path_factory.mktemp('robust'))
    generate_synthetic_dataset(root, num_train=1, num_val=1)
    video = osp.join(root, 'train', '00000.mp4')
    with open(video, 'r+b') as f:
        f.truncate(200)
    ann = osp.join(root, 'list.txt')
    with open(ann, 'w') as f:
        f.write('\ntrain/00000.mp4 0\n')  # line 2
    return ann, video


def build(ann, root):
    init_default_scope('mmaction')
    return DATASETS.build(dict(
        type='CheckedVideoDataset', ann_file=ann, pipeline=PIPELINE,
        data_prefix=dict(video=root), lazy_init=True))


def test_a_sample_of_the_list_is_named_with_its_line(truncated):
    ann, video = truncated
    dataset = build(ann, osp.dirname(ann))
    with pytest.raises(BadSampleError,
                       match=f'^cannot load sample 0 \\({ann} line 2\\): '
                       f'{video}: '):
        dataset.prepare_data(0)


def test_a_sample_made_elsewhere_names_no_line(truncated):
    ann, video = truncated
    dataset = build(ann, osp.dirname(ann))
    dataset.load_data_list = lambda: [dict(filename=video, label=0)]
    with pytest.raises(BadSampleError) as error:
        dataset.prepare_data(0)
    assert str(error.value).startswith(
        f'cannot load sample 0 ({ann}): {video}: ')
    assert 'line' not in str(error.value).split(video)[0]
