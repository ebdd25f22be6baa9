"""tools/misc/make_benchmark_videos.py: real codecs, x264's default keyframe
spacing, an mmaction2 video list, and no overwriting."""
import os.path as osp

import decord
import pytest

from ..apis.tiny_tasks import load_tool

tool = load_tool('misc/make_benchmark_videos')


@pytest.mark.parametrize('codec,ext', [('h264', 'mp4'), ('vp9', 'webm'),
                                       ('mpeg4', 'avi')])
def test_videos_decode_with_the_asked_shape(tmp_path, codec, ext):
    out = tmp_path / codec
    names = tool.main([str(out), '--num', '2', '--size', '96x64',
                       '--frames', '12', '--fps', '12', '--codec', codec])
    assert names == [f'00000.{ext}', f'00001.{ext}']
    assert (out / 'videos.txt').read_text() == ''.join(
        f'{n} 0\n' for n in names)
    for name in names:
        reader = decord.VideoReader(str(out / name))
        assert len(reader) == 12
        assert reader[0].shape == (64, 96, 3)
    if codec == 'h264':
        # x264's default keyframe interval (250) > 12 frames: one keyframe,
        # as in web video, so random access decodes from the start.
        assert list(reader.get_key_indices()) == [0]


def test_refuses_a_non_empty_folder_and_bad_sizes(tmp_path):
    (tmp_path / 'keep.mp4').write_bytes(b'x')
    with pytest.raises(SystemExit, match='not empty'):
        tool.main([str(tmp_path), '--num', '1'])
    assert (tmp_path / 'keep.mp4').read_bytes() == b'x'
    with pytest.raises(SystemExit):
        tool.parse_args([str(tmp_path / 'new'), '--size', '95x64'])
    assert not osp.exists(tmp_path / 'new')
