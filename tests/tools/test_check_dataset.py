"""tools/check_dataset.py: every bad line of a list named with file, line
and reason before training starts; a cleaned list on request."""
import os.path as osp
import re

import pytest

from adaptformer_mm.datasets import generate_synthetic_dataset

from ..conftest import DEMO_CONFIG, REPO, load_tool, run_tool

SHOTS = osp.join(
    REPO, 'configs', 'data_scales', 'adaptformer_hmdb51-split1',
    'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_'
    'hmdb51-split1-4shot.py')
FAST = osp.join(
    REPO, 'configs', 'adaptformer',
    'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb64x2-8x4x1-45e_'
    'ssv2-fast.py')


@pytest.fixture(scope='module')
def tool():
    return load_tool('check_dataset')


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
    run = run_tool('check_dataset', [config, '--split', 'val', '--workers',
                                     '2', '--write-clean', clean])
    assert run.result == 1  # the exit status of the script
    out = run.stdout
    assert f'val: {ann}: 6 lines, 2 good, 4 bad' in out
    assert f'{ann} line 2: label 7 is out of range' in out
    assert f'{ann} line 3: video not found: ' \
        f'{osp.join(clips, "val/missing.mp4")}' in out
    assert f"{ann} line 5: label 'two' is not an integer" in out
    assert f'{ann} line 6: {osp.join(clips, "val/00003.mp4")}: ' in out
    assert open(clean).read() == 'val/00000.mp4 0\nval/00000.mp4 2\n'
    # the clean list passes, in this process too (--workers 0)
    again = run_tool('check_dataset', [
        config, '--split', 'val', '--workers', '0', '--cfg-options',
        f'val_dataloader.dataset.ann_file={clean}'])
    assert again.result == 0
    assert f'val: {clean}: 2 lines, 2 good, 0 bad' in again.stdout


def test_never_overwrites_and_names_a_missing_split(bad_list):
    root, config, ann, _ = bad_list
    before = open(ann).read()
    run = run_tool('check_dataset', [config, '--split', 'val',
                                     '--write-clean', ann], check=False)
    assert run.returncode == 2
    assert f'--write-clean {ann} exists; choose another name or pass ' \
        '--force' in run.stderr
    assert open(ann).read() == before
    with pytest.raises(KeyError) as raised:
        run_tool('check_dataset', [config, '--split', 'train'])
    assert "no ['train'] dataloader(s); valid: ['val', 'test']" in \
        raised.value.args[0]


def bad_report(out, ann, clips):
    """The report of the bad list of :func:`bad_list`, wherever it is read."""
    assert f'{ann} line 2: label 7 is out of range' in out
    assert f"{ann} line 5: label 'two' is not an integer" in out
    corrupt = [ln.strip() for ln in out.splitlines()
               if ln.strip().startswith(f'{ann} line 6: ')]
    assert len(corrupt) == 1, out
    return corrupt[0]


@pytest.mark.parametrize('config, wrapper', [
    (SHOTS, 'ClassBalancedSubset('), (FAST, 'RepeatedAugDataset(')],
    ids=['4shot', 'ssv2-fast'])
def test_a_shipped_wrapped_config_checks_the_list_inside(
        tool, bad_list, tmp_path, capsys, config, wrapper):
    """The data-scale and fast recipes as shipped: the list of the dataset
    inside the wrapper, whole (a subset is drawn from all of it), through
    its whole pipeline; the report names the wrapper; --write-clean writes
    that list's good lines."""
    _, _, ann, clips = bad_list
    clean = str(tmp_path / 'clean.txt')
    inner = 'train_dataloader.dataset.dataset'
    status = tool.main([
        config, '--split', 'train', '--workers', '0', '--write-clean', clean,
        '--cfg-options', f'{inner}.ann_file={ann}',
        f'{inner}.data_prefix.video={clips}', f'{inner}.num_classes=4'])
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(
        re.escape(f'train: {ann} (inside {wrapper}') + r'[^)]*\) at '
        + re.escape('train_dataloader.dataset): 6 lines, 2 good, 4 bad'),
        out), out
    bad_report(out, ann, clips)
    assert open(clean).read() == 'val/00000.mp4 0\nval/00000.mp4 2\n'


def test_nested_wrappers_are_named_outermost_first(tool, bad_list, capsys):
    """RepeatedAugDataset over a subset over a CheckedVideoDataset that
    skips bad samples in training: the check still reports the corrupt
    video (a skipped sample would hide it)."""
    root, _, ann, clips = bad_list
    config = root / 'nested_config.py'
    config.write_text(
        f"_base_ = [{DEMO_CONFIG!r}]\n"
        "val_dataloader = None\nval_cfg = None\nval_evaluator = None\n"
        "test_dataloader = None\ntest_cfg = None\ntest_evaluator = None\n"
        "train_dataloader = dict(collate_fn=dict(type='repeated_aug_collate'),"
        " dataset=dict(_delete_=True, type='RepeatedAugDataset', "
        "num_repeats=2, dataset=dict(type='ClassBalancedSubset', shots=1, "
        "dataset=dict(type='CheckedVideoDataset', on_bad_sample='skip', "
        f"ann_file={ann!r}, data_prefix=dict(video={clips!r}), "
        "num_classes=4, pipeline={{_base_.train_pipeline}}))))\n")
    assert tool.main([str(config), '--workers', '0']) == 1
    out = capsys.readouterr().out
    assert (f'train: {ann} (inside RepeatedAugDataset(num_repeats=2) at '
            'train_dataloader.dataset > ClassBalancedSubset(shots=1) at '
            'train_dataloader.dataset.dataset): 6 lines, 2 good, 4 bad'
            ) in out
    bad_report(out, ann, clips)


def test_a_bad_video_is_named_once_with_its_line(tool, bad_list, capsys):
    """A CheckedVideoDataset's own error names the sample too: the report
    gives file, line, video and the decoder's error once, not a second,
    contradicting file and line."""
    root, _, ann, clips = bad_list
    config = root / 'checked_config.py'
    config.write_text(
        f"_base_ = [{str(root / 'check_config.py')!r}]\n"
        "val_dataloader = dict(dataset=dict(type='CheckedVideoDataset'))\n"
        "test_dataloader = val_dataloader\n")
    assert tool.main([str(config), '--split', 'val', '--workers', '0']) == 1
    out = capsys.readouterr().out
    corrupt = bad_report(out, ann, clips)
    video = osp.join(clips, 'val/00003.mp4')
    assert corrupt.startswith(f'{ann} line 6: {video}: ')
    assert corrupt.count(video) == 1 and corrupt.count(' line ') == 1
    assert 'BadSampleError' not in corrupt


def test_write_clean_overwrites_only_with_force(tool, bad_list, tmp_path,
                                                capsys):
    _, config, ann, _ = bad_list
    clean = tmp_path / 'clean.txt'
    clean.write_text('mine\n')
    args = [config, '--split', 'val', '--workers', '0', '--write-clean',
            str(clean)]
    with pytest.raises(SystemExit) as stop:
        tool.main(args)
    assert stop.value.code == 2
    assert f'--write-clean {clean} exists' in capsys.readouterr().err
    assert clean.read_text() == 'mine\n'
    assert tool.main(args + ['--force']) == 1
    assert clean.read_text() == 'val/00000.mp4 0\nval/00000.mp4 2\n'
