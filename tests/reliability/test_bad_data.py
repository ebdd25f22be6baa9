"""Bad training data: errors name the annotation file, line and video;
``on_bad_sample='skip'`` trains on and counts what it skipped per epoch."""
import glob
import json
import os.path as osp
import re

import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

from adaptformer_mm.datasets.robust import AnnotationError, BadSampleError
from adaptformer_mm.datasets.synthetic import generate_synthetic_dataset

from .conftest import train_tool, write_config

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    """4 good clips (train/0000{0..3}.mp4, labels 0..3), a truncated one and
    a file that is not a video."""
    root = str(tmp_path_factory.mktemp('bad_data'))
    generate_synthetic_dataset(root, num_train=4, num_val=1)
    with open(osp.join(root, 'train', '00000.mp4'), 'rb') as f:
        data = f.read()
    with open(osp.join(root, 'truncated.mp4'), 'wb') as f:
        f.write(data[:len(data) // 2])
    with open(osp.join(root, 'not_a_video.mp4'), 'wb') as f:
        f.write(b'this is not an mp4 file\n' * 20)
    return root


def _write(folder, name, lines):
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))
    return path


def _build(ann_file, root, **kwargs):
    init_default_scope('mmaction')
    return DATASETS.build(dict(type='CheckedVideoDataset', ann_file=ann_file,
                               data_prefix=dict(video=root),
                               pipeline=PIPELINE, **kwargs))


@pytest.mark.parametrize('bad_line, message', [
    ('train/00001.mp4 x', "line 2: label 'x' is not an integer (expected "
     '"path label" with 0 <= label < 4)'),
    ('train/00001.mp4 4', 'line 2: label 4 is out of range (expected '
     '"path label" with 0 <= label < 4)'),
    ('train/00001.mp4 -1', 'line 2: label -1 is out of range'),
    ('train/00001.mp4', 'line 2: \'train/00001.mp4\': expected "path label"'),
    ('train/missing.mp4 1',
     'line 2: video not found: {root}/train/missing.mp4'),
])
def test_bad_annotation_line_fails_at_build(tmp_path, clips, bad_line,
                                            message):
    ann = _write(tmp_path, 'list.txt', ['train/00000.mp4 0', bad_line])
    with pytest.raises(AnnotationError) as info:
        _build(ann, clips, num_classes=4)
    assert str(info.value).startswith(ann)
    assert message.format(root=clips) in str(info.value)


def test_label_range_from_metainfo_classes_and_empty_list(tmp_path, clips):
    ann = _write(tmp_path, 'list.txt', ['train/00000.mp4 0',
                                        'train/00002.mp4 2'])
    with pytest.raises(AnnotationError, match='line 2: label 2 is out of '
                       'range .*0 <= label < 2'):
        _build(ann, clips, metainfo=dict(classes=('left', 'right')))
    empty = _write(tmp_path, 'empty.txt', [])
    with pytest.raises(AnnotationError,
                       match=f'annotation file {empty} has no lines'):
        _build(empty, clips, num_classes=4)
    # skipping cannot make an empty list trainable
    with pytest.raises(AnnotationError, match='has no lines'):
        _build(empty, clips, num_classes=4, on_bad_sample='skip')


@pytest.mark.parametrize('video', ['truncated.mp4', 'not_a_video.mp4'])
def test_undecodable_video_fails_when_loaded(tmp_path, clips, video):
    ann = _write(tmp_path, 'list.txt', ['train/00000.mp4 0', f'{video} 1'])
    dataset = _build(ann, clips, num_classes=4)  # the file exists
    assert dataset[0]['inputs'].shape == (1, 3, 8, 64, 64)
    with pytest.raises(BadSampleError) as info:
        dataset[1]
    assert str(info.value).startswith(
        f'cannot load sample 1 ({ann} line 2): {clips}/{video}: '
        'RuntimeError: Error reading')


def test_skip_drops_bad_lines_and_replaces_bad_samples(tmp_path, clips,
                                                       caplog):
    ann = _write(tmp_path, 'list.txt', [
        'train/00000.mp4 0', 'train/00001.mp4 one', 'truncated.mp4 1',
        'train/missing.mp4 2', 'train/00003.mp4 3'])
    dataset = _build(ann, clips, num_classes=4, on_bad_sample='skip')
    assert len(dataset) == 3  # lines 1, 3 and 5
    assert [re.search(r'line (\d)', m).group(1)
            for m in dataset.dropped_lines] == ['2', '4']
    # line 3 (truncated) is replaced by the next sample, line 5
    assert dataset[1]['data_samples'].gt_label.item() == 3
    assert dataset.bad_samples_seen == 1
    with pytest.raises(ValueError, match="on_bad_sample='skip' with "
                       'test_mode=True'):
        _build(ann, clips, num_classes=4, on_bad_sample='skip',
               test_mode=True)
    with pytest.raises(ValueError, match=r"valid: \('error', 'skip'\)"):
        _build(ann, clips, on_bad_sample='ignore')


def _logs(work_dir):
    return '\n'.join(open(f).read() for f in glob.glob(
        osp.join(work_dir, '*', '*.log')))


def test_training_skips_and_counts_per_epoch_with_workers(
        tmp_path, clips, pretrained):
    pretrained_path, _ = pretrained
    good = [f'train/0000{i}.mp4 {i}' for i in range(4)]
    skip_list = _write(tmp_path, 'skip.txt', good + [
        'truncated.mp4 0', 'train/missing.mp4 1', 'train/00002.mp4 2.5'
    ] + good + ['not_a_video.mp4 3'])
    strict_list = _write(tmp_path, 'strict.txt', good + ['truncated.mp4 0'])
    dataset = f'''
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    dataset=dict(_delete_=True, type='CheckedVideoDataset',
                 ann_file={skip_list!r}, data_prefix=dict(video={clips!r}),
                 num_classes=4, on_bad_sample='skip',
                 pipeline={{{{_base_.val_pipeline}}}}))
custom_imports = dict(imports=['adaptformer_mm',
                               'adaptformer_mm.datasets.robust'])
custom_hooks = [dict(type='BadSampleReportHook')]
'''
    config = write_config(tmp_path, '', pretrained_path,
                          deterministic=False, extra=dataset)
    work_dir = str(tmp_path / 'work')
    tool = train_tool()
    tool.main([config, '--work-dir', work_dir])

    log = _logs(work_dir)
    assert 'dropped 2 bad line(s)' in log
    assert f'{skip_list} line 6: video not found' in log
    assert f"{skip_list} line 7: label '2.5' is not an integer" in log
    assert 'epoch 1: skipped 2 bad sample(s) (2 in this run so far' in log
    assert 'epoch 2: skipped 2 bad sample(s) (4 in this run so far' in log
    assert f'{clips}/truncated.mp4 (skip.txt line 5: RuntimeError' in log
    assert f'{clips}/not_a_video.mp4 (skip.txt line 12: RuntimeError' in log
    records = glob.glob(osp.join(work_dir, '*', 'bad_samples_rank0.jsonl'))
    entries = [json.loads(line) for line in open(records[0])]
    # recorded by the dataloader workers, 2 epochs x 2 samples (a sample
    # tried as a replacement too may be recorded twice)
    assert {(e['line'], e['filename']) for e in entries} == {
        (5, f'{clips}/truncated.mp4'), (12, f'{clips}/not_a_video.mp4')}

    # Default 'error' when resuming on a list with a truncated video: the
    # run stops naming video and line, and the checkpoints stay as they were.
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    with open(ckpt, 'rb') as f:
        before = f.read()
    with pytest.raises(BadSampleError, match=re.escape(
            f'({strict_list} line 5): {clips}/truncated.mp4')):
        tool.main([config, '--work-dir', work_dir, '--resume',
                   '--cfg-options', 'train_cfg.max_epochs=3',
                   f'train_dataloader.dataset.ann_file={strict_list}',
                   'train_dataloader.dataset.on_bad_sample=error'])
    with open(ckpt, 'rb') as f:
        assert f.read() == before
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == ckpt
