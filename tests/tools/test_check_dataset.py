"""tools/check_dataset.py: every bad line of a list named with file, line
and reason before training starts; a cleaned list on request."""
import os.path as osp

import pytest

from adaptformer_mm.datasets import generate_synthetic_dataset

from ..conftest import DEMO_CONFIG, run_python


@pytest.fixture(scope='module')
def bad_list(tmp_path_factory):
    """A val list with a good clip, a label out of range, a missing video,
    a label that is not a number, a blank line and a corrupt video."""
    root = tmp_path_factory.mktemp('check')
    paths = generate_synthetic_dataset(str(root / 'clips'), num_train=4,
                                       num_val=4)
    clips = paths['root']
    with open(osp.join(clips, 'val', '00003.mp4'), 'r+b') as f:
        f.truncate(200)  # a video cut short: the header is gone
    lines = ['val/00000.mp4 0', 'val/00001.mp4 7', 'val/missing.mp4 1', '',
             'val/00002.mp4 two', 'val/00003.mp4 3', 'val/00000.mp4 2']
    ann = root / 'val_list.txt'
    ann.write_text('\n'.join(lines) + '\n')
    config = root / 'check_config.py'
    config.write_text(
        f"_base_ = [{DEMO_CONFIG!r}]\n"
        "train_dataloader = None\ntrain_cfg = None\n"
        "val_dataloader = dict(num_workers=0, persistent_workers=False, "
        "dataset=dict(_delete_=True, type='VideoDataset', "
        f"ann_file={str(ann)!r}, data_prefix=dict(video={clips!r}), "
        "num_classes=4, test_mode=True, "
        # the demo config's own val pipeline
        "pipeline={{_base_.val_pipeline}}))\n"
        "test_dataloader = val_dataloader\n")
    return root, str(config), str(ann), clips


def test_every_bad_line_is_named_and_a_clean_list_written(bad_list):
    root, config, ann, clips = bad_list
    clean = str(root / 'val_clean.txt')
    proc = run_python(['tools/check_dataset.py', config, '--split', 'val',
                       '--workers', '2', '--write-clean', clean],
                      check=False)
    assert proc.returncode == 1
    out = proc.stdout
    assert f'val: {ann}: 6 lines, 2 good, 4 bad' in out
    assert f'{ann} line 2: label 7 is out of range' in out
    assert f'{ann} line 3: video not found: ' \
        f'{osp.join(clips, "val/missing.mp4")}' in out
    assert f"{ann} line 5: label 'two' is not an integer" in out
    assert f'{ann} line 6: {osp.join(clips, "val/00003.mp4")}: ' in out
    assert open(clean).read() == 'val/00000.mp4 0\nval/00000.mp4 2\n'
    # the clean list passes, in this process too (--workers 0)
    again = run_python(['tools/check_dataset.py', config, '--split', 'val',
                        '--workers', '0', '--cfg-options',
                        f'val_dataloader.dataset.ann_file={clean}'])
    assert f'val: {clean}: 2 lines, 2 good, 0 bad' in again.stdout


def test_never_overwrites_and_names_a_missing_split(bad_list):
    root, config, ann, _ = bad_list
    before = open(ann).read()
    proc = run_python(['tools/check_dataset.py', config, '--split', 'val',
                       '--write-clean', ann], check=False)
    assert proc.returncode == 2
    assert f'--write-clean: {ann} exists' in proc.stderr
    assert open(ann).read() == before
    proc = run_python(['tools/check_dataset.py', config, '--split',
                       'train'], check=False)
    assert proc.returncode != 0
    assert "no ['train'] dataloader(s); valid: ['val', 'test']" in \
        proc.stderr
