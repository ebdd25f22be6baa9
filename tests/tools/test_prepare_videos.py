"""tools/prepare_videos.py on a few tiny videos: sizes, keyframes, frame
counts, untouched originals, resuming, refusals and failures."""
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import sys

import decord
import numpy as np
import pytest

from adaptformer_mm.data_prep.prepare_videos import MANIFEST, find_ffmpeg
from adaptformer_mm.datasets.synthetic import write_video
from ..apis.tiny_tasks import load_tool

tool = load_tool('prepare_videos')
FRAMES = 24
# (h, w) per video; decord cannot open some tiny widths (48, 72).
SIZES = {'a.mp4': (96, 160), 'sub/b.mp4': (176, 128), 'sub/c.mp4': (64, 96)}


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('prepare_src')
    rng = np.random.default_rng(0)
    for rel, (h, w) in SIZES.items():
        os.makedirs(osp.dirname(root / rel), exist_ok=True)
        write_video(str(root / rel),
                    rng.integers(0, 256, (FRAMES, h, w, 3), np.uint8), 8)
    return root


@pytest.fixture
def src(videos, tmp_path):
    """A fresh copy of the videos per test (tests change them)."""
    return str(shutil.copytree(videos, tmp_path / 'src'))


def run(src, dst, *extra):
    return tool.main([src, dst, '--workers', '2', '--measure', '0', *extra])


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns


def hw(path):
    return decord.VideoReader(path, num_threads=1)[0].shape[:2]


def test_sizes_keyframes_frames_and_untouched_originals(src, tmp_path):
    dst = str(tmp_path / 'dst')
    before = {rel: digest(osp.join(src, rel)) for rel in SIZES}
    result = run(src, dst, '--short-side', '96', '--gop', '8')
    assert (result['done'], result['skipped'], result['failed']) == (3, 0, [])
    assert {rel: digest(osp.join(src, rel)) for rel in SIZES} == before
    # short side 96 (aspect kept, even), already 96, never upscaled
    assert hw(osp.join(dst, 'a.mp4')) == (96, 160)
    assert hw(osp.join(dst, 'sub/b.mp4')) == (132, 96)
    assert hw(osp.join(dst, 'sub/c.mp4')) == (64, 96)
    for rel in SIZES:
        reader = decord.VideoReader(osp.join(dst, rel), num_threads=1)
        assert len(reader) == FRAMES
        assert list(reader.get_key_indices()) == [0, 8, 16]
    assert sorted(os.listdir(dst)) == ['a.mp4', MANIFEST, 'sub']
    assert sorted(os.listdir(osp.join(dst, 'sub'))) == ['b.mp4', 'c.mp4']


def test_allow_upscale(src, tmp_path):
    dst = str(tmp_path / 'dst')
    with open(tmp_path / 'list.txt', 'w') as f:
        f.write('sub/c.mp4 0\n')
    run(src, dst, '--ann-file', str(tmp_path / 'list.txt'),
        '--short-side', '96', '--allow-upscale')
    assert hw(osp.join(dst, 'sub/c.mp4')) == (96, 144)


def test_resume(src, tmp_path):
    dst = str(tmp_path / 'dst')
    run(src, dst, '--short-side', '64')
    result = run(src, dst, '--short-side', '64')
    assert (result['done'], result['skipped']) == (0, 3)
    os.remove(osp.join(dst, 'a.mp4'))
    result = run(src, dst, '--short-side', '64')
    assert (result['done'], result['skipped']) == (1, 2)
    # A killed run: output replaced by a stale partial file, torn manifest.
    out = osp.join(dst, 'sub', 'b.mp4')
    partial = osp.join(dst, 'sub', '.b.mp4.partial')
    os.replace(out, partial)
    with open(osp.join(dst, MANIFEST), 'a') as f:
        f.write('{"src": "sub/c.mp4", "dst"')
    result = run(src, dst, '--short-side', '64')
    assert (result['done'], result['skipped']) == (1, 2)
    assert not osp.exists(partial) and hw(out) == (88, 64)
    # A changed source is redone.
    os.utime(osp.join(src, 'sub', 'c.mp4'), ns=(1, 1))
    result = run(src, dst, '--short-side', '64')
    assert (result['done'], result['skipped']) == (1, 2)


def test_refuses_other_settings_and_foreign_outputs(src, tmp_path):
    dst = str(tmp_path / 'dst')
    run(src, dst, '--short-side', '64')
    with pytest.raises(FileExistsError, match=r'short_side: 64 there, 96 '
                       r'now.*--overwrite') as err:
        run(src, dst, '--short-side', '96')
    assert dst in str(err.value)
    result = run(src, dst, '--short-side', '96', '--overwrite')
    assert result['done'] == 3 and hw(osp.join(dst, 'a.mp4')) == (96, 160)
    os.remove(osp.join(dst, MANIFEST))
    with pytest.raises(FileExistsError, match='not recorded'):
        run(src, dst, '--short-side', '96')


def test_refuses_to_write_over_sources(src, tmp_path):
    with pytest.raises(ValueError, match='is SRC_ROOT'):
        run(src, src + '/./')
    with pytest.raises(ValueError, match='inside DST_ROOT'):
        run(src, str(tmp_path))
    # DST inside SRC: allowed, and its outputs are not taken as inputs.
    dst = osp.join(src, 'prepared')
    assert run(src, dst, '--short-side', '64')['done'] == 3
    result = run(src, dst, '--short-side', '64')
    assert (result['done'], result['skipped']) == (0, 3)


def test_dry_run_writes_nothing(src, tmp_path, capsys):
    result = run(src, str(tmp_path / 'dst'), '--dry-run')
    assert result['would_encode'] == 3
    assert not osp.exists(tmp_path / 'dst')
    assert 'would encode' in capsys.readouterr().out


def test_ffmpeg_not_found(src, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='--ffmpeg /nonexistent'):
        run(src, str(tmp_path / 'dst'), '--ffmpeg', '/nonexistent')
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    monkeypatch.setitem(sys.modules, 'imageio_ffmpeg', None)
    with pytest.raises(FileNotFoundError,
                       match='--ffmpeg PATH, put ffmpeg on PATH, or .*'
                       'imageio-ffmpeg'):
        find_ffmpeg()


def test_corrupt_input_reported_and_others_done(src, tmp_path):
    bad = osp.join(src, 'sub', '0bad.mp4')
    with open(bad, 'wb') as f:
        f.write(np.random.default_rng(0).bytes(4096))
    dst = str(tmp_path / 'dst')
    result = run(src, dst, '--short-side', '64')
    assert result['done'] == 3
    [(rel, error)] = result['failed']
    assert rel == 'sub/0bad.mp4' and 'ffmpeg exited' in error
    assert sorted(os.listdir(osp.join(dst, 'sub'))) == ['b.mp4', 'c.mp4']
    # --fail-fast: nothing new starts after the failure (0bad sorts first).
    result = tool.main([src, str(tmp_path / 'dst2'), '--workers', '1',
                        '--measure', '0', '--fail-fast', '--ann-file',
                        str(_write_list(tmp_path, ['sub/0bad.mp4', 'a.mp4',
                                                   'sub/b.mp4']))])
    assert len(result['failed']) == 1
    assert result['not_started'] >= 1
    assert result['done'] + result['not_started'] == 2


def _write_list(tmp_path, rels):
    path = tmp_path / 'list.txt'
    path.write_text(''.join(f'{rel} {i}\n' for i, rel in enumerate(rels)))
    return path


def test_ann_file_webm_and_renamed_list(src, tmp_path):
    ffmpeg = find_ffmpeg()
    subprocess.run([ffmpeg, '-loglevel', 'error', '-i',
                    osp.join(src, 'a.mp4'), '-c:v', 'libvpx', '-f', 'webm',
                    osp.join(src, 'w.webm')], check=True)
    ann = _write_list(tmp_path, ['w.webm', 'sub/b.mp4', 'w.webm'])
    dst = str(tmp_path / 'dst')
    with pytest.raises(ValueError, match='WebM.*--ext mp4'):
        run(src, dst, '--ann-file', str(ann))
    result = run(src, dst, '--ann-file', str(ann), '--ext', 'mp4')
    assert result['done'] == 2  # listed twice, encoded once; a, c unlisted
    assert set(os.listdir(dst)) == {MANIFEST, 'list.txt', 'sub', 'w.mp4'}
    assert os.listdir(osp.join(dst, 'sub')) == ['b.mp4']
    with open(osp.join(dst, 'list.txt')) as f:
        assert f.read() == 'w.mp4 0\nsub/b.mp4 1\nw.mp4 2\n'
    assert len(decord.VideoReader(osp.join(dst, 'w.mp4'))) == FRAMES


def test_measure(src, tmp_path, capsys):
    result = tool.main([src, str(tmp_path / 'dst'), '--workers', '2',
                        '--short-side', '64', '--measure', '2',
                        '--clip-len', '4', '--frame-interval', '2'])
    measure = result['measure']
    assert (measure['files'], measure['clips']) == (2, 8)
    assert measure['original'] > 0 and measure['prepared'] > 0
    assert measure['ratio'] == pytest.approx(
        measure['prepared'] / measure['original'])
    assert 'clips/s' in capsys.readouterr().out


def test_progress_bar_shows_rate_and_time_left(src, tmp_path, capsys):
    run(src, str(tmp_path / 'dst'), '--short-side', '64')
    out = capsys.readouterr().out
    # mmengine's ProgressBar: files done of all, files/s, time left.
    assert '3/3' in out and 'task/s' in out and 'ETA' in out
    # Nothing to encode: no bar.
    run(src, str(tmp_path / 'dst'), '--short-side', '64')
    assert 'task/s' not in capsys.readouterr().out
