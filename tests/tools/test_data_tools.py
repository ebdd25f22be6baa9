"""tools/data/build_lists.py on tiny fake copies of the official annotation
files, and its lists loaded by the project's dataset configs."""
import csv
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest

from ..conftest import REPO, run_python, run_tool

TOOL = osp.join(REPO, 'tools', 'data', 'build_lists.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('build_lists', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bl = _load_tool()


def read(path):
    with open(path) as f:
        return f.read().splitlines()


def touch(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'wb').close()


def write_frames(frame_dir, count):
    for i in range(1, count + 1):
        touch(osp.join(frame_dir, f'img_{i:05d}.jpg'))


# ------------------------------------------------------------------- SSv2
@pytest.fixture
def ssv2_ann(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    labels = {'Pushing something from left to right': '0',
              'Putting something on a surface': '1',
              'Holding something': '2'}
    train = [
        dict(id='78687', label='pushing a cup from left to right',
             template='Pushing [something] from left to right',
             placeholders=['a cup']),
        dict(id='42326', label='putting a pen on a table',
             template='Putting [something] on a surface',
             placeholders=['a pen']),
        dict(id='100904', label='holding a phone',
             template='Holding [something]', placeholders=['a phone']),
    ]
    val = [dict(id='74225', label='holding a book',
                template='Holding [something]', placeholders=['a book'])]
    for name, obj in (('labels', labels), ('train', train),
                      ('validation', val)):
        (ann / f'something-something-v2-{name}.json').write_text(
            json.dumps(obj))
    return ann


def test_ssv2_lists_use_template_labels_and_webm_ids(ssv2_ann, tmp_path):
    out = tmp_path / 'out'
    written = bl.main(['ssv2', str(ssv2_ann), '--out-dir', str(out)])
    assert read(written['train']) == [
        '78687.webm 0', '42326.webm 1', '100904.webm 2']
    assert read(written['val']) == ['74225.webm 2']
    assert osp.basename(written['train']) == 'sthv2_train_list_videos.txt'


def test_ssv2_accepts_short_file_names_and_leaves_out_missing_videos(
        ssv2_ann, tmp_path, capsys):
    for name in ('labels', 'train', 'validation'):
        os.rename(ssv2_ann / f'something-something-v2-{name}.json',
                  ssv2_ann / f'{name}.json')
    videos = tmp_path / 'videos'
    touch(str(videos / '78687.webm'))
    touch(str(videos / '100904.webm'))
    written = bl.main(['ssv2', str(ssv2_ann), '--out-dir', str(tmp_path),
                       '--data-root', str(videos)])
    assert read(written['train']) == ['78687.webm 0', '100904.webm 2']
    assert read(written['val']) == []
    assert '1 of 3 not found' in capsys.readouterr().out


def test_ssv2_unknown_template_names_the_item(ssv2_ann):
    path = ssv2_ann / 'something-something-v2-validation.json'
    path.write_text(json.dumps([dict(id='7', template='Juggling [x]')]))
    with pytest.raises(bl.AnnotationError, match=r"item 7 .*'Juggling x'"):
        bl.ssv2_entries(str(ssv2_ann))


def test_ssv2_rawframes_count_frames(ssv2_ann, tmp_path):
    frames = tmp_path / 'rawframes'
    write_frames(str(frames / '78687'), 5)
    write_frames(str(frames / '42326'), 3)
    write_frames(str(frames / '74225'), 2)
    written = bl.main(['ssv2', str(ssv2_ann), '--out-dir', str(tmp_path),
                       '--format', 'rawframes', '--data-root', str(frames)])
    assert read(written['train']) == ['78687 5 0', '42326 3 1']
    assert read(written['val']) == ['74225 2 2']
    assert osp.basename(written['val']) == 'sthv2_val_list_rawframes.txt'


def test_rawframes_without_data_root_is_an_error(ssv2_ann, tmp_path):
    with pytest.raises(ValueError, match='needs --data-root'):
        bl.main(['ssv2', str(ssv2_ann), '--out-dir', str(tmp_path),
                 '--format', 'rawframes'])


# ----------------------------------------------------------------- HMDB51
@pytest.fixture
def hmdb_splits(tmp_path):
    splits = tmp_path / 'splits'
    splits.mkdir()
    (splits / 'ride_bike_test_split1.txt').write_text(
        'bike_a.avi 1 \nbike_b.avi 2 \nbike_c.avi 0 \n')
    (splits / 'brush_hair_test_split1.txt').write_text(
        'hair_a.avi 2 \nhair_b.avi 1 \n')
    (splits / 'brush_hair_test_split2.txt').write_text('hair_a.avi 1 \n')
    return splits


def test_hmdb51_split1_flags_and_sorted_classes(hmdb_splits, tmp_path):
    written = bl.main(['hmdb51', str(hmdb_splits), '--out-dir',
                       str(tmp_path)])
    # brush_hair < ride_bike: labels 0 and 1; flag 1 = train, 2 = test,
    # 0 = not in this split.
    assert read(written['train']) == ['brush_hair/hair_b.avi 0',
                                      'ride_bike/bike_a.avi 1']
    assert read(written['val']) == ['brush_hair/hair_a.avi 0',
                                    'ride_bike/bike_b.avi 1']
    assert osp.basename(written['val']) == 'hmdb51_val_split_1_videos.txt'


def test_hmdb51_missing_split_and_bad_line_are_named(hmdb_splits):
    with pytest.raises(bl.AnnotationError, match='_test_split3.txt'):
        bl.hmdb51_entries(str(hmdb_splits), split=3)
    (hmdb_splits / 'ride_bike_test_split1.txt').write_text('bike_a.avi 7\n')
    with pytest.raises(bl.AnnotationError,
                       match=r'ride_bike_test_split1.txt:1'):
        bl.hmdb51_entries(str(hmdb_splits), split=1)


# ------------------------------------------------------------ Kinetics-400
def write_csv(path, rows):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['label', 'youtube_id', 'time_start', 'time_end',
                         'split', 'is_cc'])
        writer.writerows(rows)


@pytest.fixture
def k400_ann(tmp_path):
    ann = tmp_path / 'k400'
    ann.mkdir()
    write_csv(ann / 'train.csv', [
        ['playing guitar', 'abc', '12', '22', 'train', '0'],
        ['abseiling', 'def', '0', '10', 'train', '0'],
    ])
    write_csv(ann / 'validate.csv', [
        ['abseiling', 'ghi', '30', '40', 'val', '0'],
    ])
    return ann


def test_kinetics_names_clips_like_the_downloader(k400_ann, tmp_path):
    written = bl.main(['kinetics400', str(k400_ann), '--out-dir',
                       str(tmp_path)])
    assert read(written['train']) == [
        'playing_guitar/abc_000012_000022.mp4 1',
        'abseiling/def_000000_000010.mp4 0']
    assert read(written['val']) == ['abseiling/ghi_000030_000040.mp4 0']
    flat = bl.kinetics_entries(str(k400_ann), level=1)
    assert flat['train'][0] == ('abc_000012_000022.mp4', 1)


def test_kinetics_separate_val_root_and_unknown_class(k400_ann, tmp_path):
    train_root, val_root = tmp_path / 'videos_train', tmp_path / 'videos_val'
    touch(str(train_root / 'abseiling' / 'def_000000_000010.mp4'))
    touch(str(val_root / 'abseiling' / 'ghi_000030_000040.mp4'))
    written = bl.main([
        'kinetics400', str(k400_ann), '--out-dir', str(tmp_path),
        '--data-root', str(train_root), '--val-data-root', str(val_root)])
    assert read(written['train']) == ['abseiling/def_000000_000010.mp4 0']
    assert read(written['val']) == ['abseiling/ghi_000030_000040.mp4 0']
    write_csv(k400_ann / 'validate.csv', [['surfing', 'x', '0', '10', 'val',
                                           '0']])
    with pytest.raises(bl.AnnotationError, match="'surfing' of x"):
        bl.kinetics_entries(str(k400_ann))


def test_kinetics_classes_are_labels_without_quotes_as_in_mmaction2(
        tmp_path):
    # mmaction2 numbers the labels with double quotes removed, so a quoted
    # spelling sorts by its name and is the same class as the plain one.
    ann = tmp_path / 'k400'
    ann.mkdir()
    write_csv(ann / 'train.csv', [
        ['"hurling (sport)"', 'abc', '0', '10', 'train', '0'],
        ['abseiling', 'def', '0', '10', 'train', '0'],
        ['zumba', 'ghi', '0', '10', 'train', '0'],
    ])
    write_csv(ann / 'validate.csv', [
        ['hurling (sport)', 'jkl', '5', '15', 'val', '0'],
    ])
    splits = bl.kinetics_entries(str(ann))
    assert splits['train'] == [
        ('hurling_(sport)/abc_000000_000010.mp4', 1),
        ('abseiling/def_000000_000010.mp4', 0),
        ('zumba/ghi_000000_000010.mp4', 2)]
    assert splits['val'] == [('hurling_(sport)/jkl_000005_000015.mp4', 1)]


# ------------------------------------------------------------------ folder
def test_folder_split_is_per_class_and_deterministic(tmp_path):
    videos = tmp_path / 'my_videos' / 'videos'
    for cls, count in (('wave', 5), ('clap', 1)):
        for i in range(count):
            touch(str(videos / cls / f'{cls}{i}.mp4'))
    touch(str(videos / 'wave' / 'notes.txt'))
    out = tmp_path / 'my_videos'
    written = bl.main(['folder', str(videos), '--val-fraction', '0.2'])
    train, val = read(written['train']), read(written['val'])
    assert read(str(out / 'classes.txt')) == ['0 clap', '1 wave']
    assert len(val) == 1 and val[0].startswith('wave/')
    assert sorted(train + val) == sorted(
        ['clap/clap0.mp4 0'] + [f'wave/wave{i}.mp4 1' for i in range(5)])
    again = bl.main(['folder', str(videos), '--val-fraction', '0.2'])
    assert read(again['val']) == val


# --------------------------------------------------------------------- CLI
def test_cli_writes_lists_and_reports_errors_briefly(ssv2_ann, tmp_path):
    run = run_tool('data/build_lists', ['ssv2', str(ssv2_ann), '--out-dir',
                                        str(tmp_path)])
    assert 'sthv2_train_list_videos.txt: 3 videos' in run.stdout
    # As a script: the error is one line, without a traceback (what the
    # script's __main__ does; main itself raises).
    proc = run_python([TOOL, 'ssv2', str(tmp_path / 'nowhere')], check=False)
    assert proc.returncode != 0
    assert 'error: neither something-something-v2-labels.json' in proc.stderr
    assert 'Traceback' not in proc.stderr


# ------------------------------------------- lists work with our configs
def test_hmdb51_lists_load_in_the_video_and_rawframe_configs(tmp_path):
    """Official split files -> tool -> configs/_base_/datasets/hmdb51-*."""
    import cv2
    from mmaction.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from adaptformer_mm.datasets.synthetic import write_video

    splits = tmp_path / 'splits'
    splits.mkdir()
    (splits / 'wave_test_split1.txt').write_text('w1.avi 1\nw2.avi 2\n')
    videos, frames = tmp_path / 'videos', tmp_path / 'rawframes'
    clip = np.random.default_rng(0).integers(
        0, 255, (12, 64, 64, 3), dtype=np.uint8)
    for name in ('w1', 'w2'):
        os.makedirs(videos / 'wave', exist_ok=True)
        # decord reads by content: an mp4 stream in a .avi name is fine.
        write_video(str(videos / 'wave' / f'{name}.avi'), clip)
        os.makedirs(frames / 'wave' / name)
        for i, frame in enumerate(clip, 1):
            cv2.imwrite(str(frames / 'wave' / name / f'img_{i:05d}.jpg'),
                        frame)
    lists = tmp_path / 'lists'
    video_lists = bl.main(['hmdb51', str(splits), '--out-dir', str(lists),
                           '--data-root', str(videos)])
    frame_lists = bl.main(['hmdb51', str(splits), '--out-dir', str(lists),
                           '--format', 'rawframes', '--data-root',
                           str(frames)])
    assert read(frame_lists['train']) == ['wave/w1 12 0']

    init_default_scope('mmaction')
    for base, written, prefix in (
            ('hmdb51-split1_video.py', video_lists, dict(video=str(videos))),
            ('hmdb51-split1_rawframes.py', frame_lists,
             dict(img=str(frames)))):
        cfg = Config.fromfile(
            osp.join(REPO, 'configs', '_base_', 'datasets', base))
        for split, loader in (('train', cfg.train_dataloader),
                              ('val', cfg.test_dataloader)):
            dataset = DATASETS.build(
                dict(loader.dataset, ann_file=written[split],
                     data_prefix=prefix))
            sample = dataset[0]
            assert sample['data_samples'].gt_label.item() == 0
            assert sample['inputs'].shape[-3:] == (8, 224, 224)
