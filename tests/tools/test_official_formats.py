"""tools/data/build_lists.py on annotation files in each dataset's official
layout (``data_formats/``): every clip gets the id of its class in
mmaction2's own label map, so checkpoints and lists agree with mmaction2."""
import csv
import os.path as osp

import pytest

from ..conftest import load_tool

FORMATS = osp.join(osp.dirname(osp.abspath(__file__)), 'data_formats')

bl = load_tool('data/build_lists')


def label_map(path):
    """``{class name: line index}`` of an mmaction2 label map."""
    with open(osp.join(FORMATS, 'mmaction2', path)) as f:
        return {name: i for i, name in enumerate(f.read().splitlines())}


def read_list(path):
    """``[(path, label)]`` of a ``path label`` list file."""
    with open(path) as f:
        return [(p, int(label)) for p, label in map(str.split, f)]


# ------------------------------------------------------------------- SSv2
# The class of each fixture clip, spelled as in mmaction2's label map.
SSV2_CLASSES = {
    '78687': "Putting something that can't roll onto a slanted surface, "
             'so it slides down',
    '42326': 'Twisting (wringing) something wet until water comes out',
    '100904': 'Touching (without moving) part of something',
    '13758': 'Something falling like a rock',
    '1': 'Approaching something with your camera',
    '220847': 'Putting number of something onto something',
    '74225': "Poking something so lightly that it doesn't or almost "
             "doesn't move",
    '116154': 'Pretending to be tearing something that is not tearable',
    '8967': 'Wiping something off of something',
    '1960': 'Holding something',
}


def test_ssv2_ids_are_mmaction2_label_map_lines(tmp_path):
    index = label_map('sthv2/label_map.txt')
    written = bl.main(['ssv2', osp.join(FORMATS, 'sthv2', 'annotations'),
                       '--out-dir', str(tmp_path)])
    clips = read_list(written['train']) + read_list(written['val'])
    assert sorted(clips) == sorted(
        (f'{vid}.webm', index[name]) for vid, name in SSV2_CLASSES.items())


# ----------------------------------------------------------------- HMDB51
HMDB51_SPLITS = osp.join(FORMATS, 'hmdb51', 'testTrainMulti_7030_splits')


@pytest.mark.parametrize('split', [1, 2, 3])
def test_hmdb51_ids_are_mmaction2_label_map_lines(split, tmp_path):
    index = label_map('hmdb51/label_map.txt')
    written = bl.main(['hmdb51', HMDB51_SPLITS, '--split', str(split),
                       '--out-dir', str(tmp_path)])
    for name in ('train', 'val'):
        clips = read_list(written[name])
        # Every class has one train and one test clip in every split.
        assert sorted(p.split('/')[0] for p, _ in clips) == sorted(index)
        for path, label in clips:
            assert label == index[path.split('/')[0]], path
    # The classes whose split files sort the other way round.
    labels = dict(
        (p.split('/')[0], label) for p, label in read_list(written['train']))
    assert [labels[c] for c in ('climb', 'climb_stairs', 'kick', 'kick_ball',
                                'sword', 'sword_exercise')] == [
        5, 6, 20, 21, 44, 45]


def test_hmdb51_flags_follow_the_split_files(tmp_path):
    written = bl.main(['hmdb51', HMDB51_SPLITS, '--split', '2',
                       '--out-dir', str(tmp_path)])
    with open(osp.join(HMDB51_SPLITS, 'kick_ball_test_split2.txt')) as f:
        flags = dict(line.split() for line in f)
    train = {p for p, _ in read_list(written['train'])}
    val = {p for p, _ in read_list(written['val'])}
    for video, flag in flags.items():
        path = f'kick_ball/{video}'
        assert (path in train, path in val) == (flag == '1', flag == '2')


# ------------------------------------------------------------ Kinetics-400
K400 = osp.join(FORMATS, 'kinetics400')


def k400_clips(csv_name, index):
    """The clips of an official csv as mmaction2 lists them (level 2)."""
    with open(osp.join(K400, csv_name), newline='') as f:
        rows = list(csv.DictReader(f))
    return [(f'{r["label"].replace(" ", "_")}/{r["youtube_id"]}_'
             f'{int(float(r["time_start"])):06d}_'
             f'{int(float(r["time_end"])):06d}.mp4', index[r['label']])
            for r in rows]


def test_kinetics400_ids_are_mmaction2_label_map_lines(tmp_path):
    index = label_map('kinetics/label_map_k400.txt')
    written = bl.main(['kinetics400', K400, '--out-dir', str(tmp_path)])
    assert read_list(written['train']) == k400_clips('train.csv', index)
    val = read_list(written['val'])
    assert val == k400_clips('validate.csv', index)
    # Quoted in the csv; parentheses and apostrophes stay in the folder.
    assert val[:2] == [
        ('hurling_(sport)/Lx4yj88bANM_000000_000010.mp4',
         index['hurling (sport)']),
        ("massaging_person's_head/uBzVJdaNle9_000003_000013.mp4",
         index["massaging person's head"])]

