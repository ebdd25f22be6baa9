"""Synthetic clips are real mp4 files read by mmaction2's normal pipeline."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

import adaptformer_mm  # noqa: F401
from adaptformer_mm.datasets import SYNTHETIC_TASKS, generate_synthetic_dataset

init_default_scope('mmaction')

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


@pytest.mark.parametrize('task', sorted(SYNTHETIC_TASKS))
def test_generated_clips_decode_through_video_dataset(tmp_path, task):
    paths = generate_synthetic_dataset(str(tmp_path / task), task=task,
                                       num_train=8, num_val=4, num_frames=16)
    lines = open(paths['train_list']).read().split('\n')[:-1]
    assert len(lines) == 8
    classes = SYNTHETIC_TASKS[task][0]
    assert [int(ln.split()[1]) for ln in lines] == [
        i % len(classes) for i in range(8)]
    dataset = DATASETS.build(dict(
        type='VideoDataset', ann_file=paths['train_list'],
        data_prefix=dict(video=paths['root']), pipeline=PIPELINE))
    sample = dataset[2]
    assert tuple(sample['inputs'].shape) == (1, 3, 8, 64, 64)
    assert sample['data_samples'].gt_label.item() == 2
    names = open(paths['classes']).read().split()
    assert names == list(SYNTHETIC_TASKS[task][0])


def test_generation_is_deterministic_and_clips_differ(tmp_path):
    a = generate_synthetic_dataset(str(tmp_path / 'a'), num_train=4,
                                   num_val=1)
    b = generate_synthetic_dataset(str(tmp_path / 'b'), num_train=4,
                                   num_val=1)
    import decord
    read = lambda root, i: decord.VideoReader(  # noqa: E731
        osp.join(root, f'train/{i:05d}.mp4')).get_batch(range(16)).asnumpy()
    assert np.array_equal(read(a['root'], 0), read(b['root'], 0))
    assert not np.array_equal(read(a['root'], 0), read(a['root'], 1))
    # the object moves: first and last frames differ well beyond noise
    clip = read(a['root'], 0).astype(np.float32)
    assert np.abs(clip[0] - clip[-1]).max() > 100


def test_existing_data_is_reused_or_refused(tmp_path):
    root = str(tmp_path / 'd')
    generate_synthetic_dataset(root, num_train=4, num_val=1)
    before = open(osp.join(root, 'meta.json')).read()
    generate_synthetic_dataset(root, num_train=4, num_val=1)  # reuse: no-op
    assert open(osp.join(root, 'meta.json')).read() == before
    with pytest.raises(FileExistsError, match='other parameters'):
        generate_synthetic_dataset(root, num_train=8, num_val=1)
    assert json.loads(before)['num_train'] == 4
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='not written by this generator'):
        generate_synthetic_dataset(str(foreign), num_train=4, num_val=1)
    assert (foreign / 'keep.txt').read_text() == 'user data'


def test_bad_arguments_name_valid_values(tmp_path):
    with pytest.raises(ValueError, match="valid tasks: \\['direction'"):
        generate_synthetic_dataset(str(tmp_path / 'x'), task='spin')
    with pytest.raises(ValueError, match='multiple of 32'):
        generate_synthetic_dataset(str(tmp_path / 'x'), size=48)
    with pytest.raises(ValueError, match="split='test'"):
        DATASETS.build(dict(type='SyntheticVideoDataset',
                            data_root=str(tmp_path / 'y'), split='test'))
    # the dataset checks with the generator's messages, before generating
    for bad, message in [(dict(task='spin'), 'valid tasks'),
                         (dict(size=48), 'multiple of 32')]:
        with pytest.raises(ValueError, match=message):
            DATASETS.build(dict(type='SyntheticVideoDataset',
                                data_root=str(tmp_path / 'y'), **bad))
    assert not (tmp_path / 'y').exists()


def test_synthetic_video_dataset_generates_on_first_use(tmp_path):
    root = str(tmp_path / 'auto')
    cfg = dict(type='SyntheticVideoDataset', data_root=root, split='val',
               num_train=4, num_val=4, pipeline=PIPELINE, test_mode=True)
    dataset = DATASETS.build(cfg)
    assert len(dataset) == 4
    assert dataset.metainfo['classes'] == SYNTHETIC_TASKS['direction'][0]
    assert tuple(dataset[0]['inputs'].shape) == (1, 3, 8, 64, 64)


def _object_track(frames):
    """Centroid x, y, area and principal-axis angle of the object per frame
    (the object is brighter than 150 in every channel, the noise is not)."""
    out = []
    for frame in frames:
        ys, xs = np.nonzero((frame >= 150).all(axis=-1))
        cov = np.cov(np.stack([xs, ys]).astype(np.float64))
        angle = 0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])
        out.append((xs.mean(), ys.mean(), len(xs), angle))
    return np.array(out)


@pytest.mark.parametrize('shape', ['rectangle', 'ellipse'])
def test_prim24_classes_are_shape_times_motion(shape):
    classes, render = SYNTHETIC_TASKS['prim24']
    assert len(classes) == 24 and len(set(classes)) == 24
    for motion, check in [
            ('right', lambda t: t[-1, 0] - t[0, 0] > 10),
            ('left', lambda t: t[0, 0] - t[-1, 0] > 10),
            ('down', lambda t: t[-1, 1] - t[0, 1] > 10),
            ('up', lambda t: t[0, 1] - t[-1, 1] > 10),
            ('grow', lambda t: t[-1, 2] > 1.5 * t[0, 2]),
            ('shrink', lambda t: t[0, 2] > 1.5 * t[-1, 2]),
            # image y points down: clockwise turns the axis' angle up
            ('rotate_cw', lambda t: np.unwrap(t[:, 3], period=np.pi)[-1] -
             t[0, 3] > 0.5),
            ('rotate_ccw', lambda t: t[0, 3] - np.unwrap(
                t[:, 3], period=np.pi)[-1] > 0.5)]:
        label = classes.index(f'{shape}_{motion}')
        for i in range(3):
            frames = render(np.random.default_rng([7, i]), label, 16, 64)
            track = _object_track(frames)
            assert check(track), (shape, motion, i, track[[0, -1]])


def test_order_task_differs_only_after_the_turn():
    classes, render = SYNTHETIC_TASKS['order']
    plain, back = classes.index('right'), classes.index('right_and_back')
    for i in range(3):
        track = _object_track(render(np.random.default_rng([3, i]), back,
                                     16, 64))
        assert track[7, 0] > track[0, 0] + 5  # first half: moves right
        assert track[-1, 0] < track[:, 0].max() - 3  # then comes back
        track = _object_track(render(np.random.default_rng([3, i]), plain,
                                     16, 64))
        assert np.all(np.diff(track[:, 0]) >= 0)


def test_test_split_and_writers_side_by_side(tmp_path):
    """A test split when asked for; processes that generate the same
    dataset at once all succeed and leave one complete copy."""
    import multiprocessing as mp
    root = str(tmp_path / 'd')
    kwargs = dict(task='dynamics', num_train=4, num_val=2, num_test=3)
    ctx = mp.get_context('fork')
    procs = [ctx.Process(target=generate_synthetic_dataset, args=(root,),
                         kwargs=kwargs) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert sorted(os.listdir(tmp_path)) == ['d']  # no temporary left
    paths = generate_synthetic_dataset(root, **kwargs)
    assert len(open(paths['test_list']).read().split('\n')[:-1]) == 3
    assert json.load(open(osp.join(root, 'meta.json')))['num_test'] == 3
    # a dataset without a test split keeps its old layout and meta
    old = generate_synthetic_dataset(str(tmp_path / 'e'), num_train=4,
                                     num_val=1)
    assert 'test_list' not in old
    assert 'num_test' not in json.load(open(osp.join(old['root'],
                                                     'meta.json')))
