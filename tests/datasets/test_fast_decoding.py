"""ScaledDecordInit / ScaledDecordDecode against mmaction2's stock
DecordInit + DecordDecode + Resize(short 256) on the same 640x360 files."""
import cv2
import numpy as np
import pytest

from adaptformer_mm.datasets.synthetic import write_video
from adaptformer_mm.datasets.transforms import (ScaledDecordDecode,
                                                ScaledDecordInit,
                                                short_side_size)
from mmaction.datasets.transforms import (DecordDecode, DecordInit, Resize,
                                          SampleFrames)


def _frames(seed, t=32, h=360, w=640):
    """Smooth texture panning under two moving shapes: compresses and
    scales like camera footage, unlike per-pixel noise."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    base = cv2.resize(base, (w * 2, h), interpolation=cv2.INTER_CUBIC)
    out = []
    for i in range(t):
        f = base[:, i * 8:i * 8 + w].copy()
        cv2.circle(f, (int(w * (0.2 + 0.6 * i / t)), h // 2), 40,
                   (255, 60, 30), -1)
        out.append(f)
    return np.stack(out)


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('fast') / 'v.mp4')
    write_video(path, _frames(0), fps=25)
    return path


def _clip(pipeline, path):
    results = dict(filename=path, start_index=0, modality='RGB')
    for t in pipeline:
        results = t(results)
    return np.stack(results['imgs']).astype(np.float64)


SAMPLE = dict(clip_len=8, frame_interval=4, num_clips=1, test_mode=True)


def stock(path):
    return _clip([DecordInit(), SampleFrames(**SAMPLE), DecordDecode(),
                  Resize(scale=(-1, 256))], path)


def test_short_side_size_matches_mmcv_rounding():
    assert short_side_size(360, 640, 256) == (256, 455)
    assert short_side_size(272, 640, 256) == (256, 602)
    assert short_side_size(720, 1280, 256) == (256, 455)


def test_native_decode_plus_resize_equals_stock(video):
    # 360 < 2 x 256: decoded at native size, resized as the stock Resize.
    ours = _clip([ScaledDecordInit(short_side=256), SampleFrames(**SAMPLE),
                  ScaledDecordDecode()], video)
    np.testing.assert_array_equal(ours, stock(video))


def test_decoder_scaling_matches_stock_statistics(video):
    ours = _clip([ScaledDecordInit(short_side=256, decoder_min_ratio=1.0),
                  SampleFrames(**SAMPLE), ScaledDecordDecode()], video)
    ref = stock(video)
    assert ours.shape == ref.shape == (8, 256, 455, 3)
    # ffmpeg's scaler vs mmcv's bilinear resize: ~1 grey level apart in the
    # channel means (see docs/benchmarks.md), a few levels per pixel.
    np.testing.assert_allclose(ours.mean((0, 1, 2)), ref.mean((0, 1, 2)),
                               atol=3.0)
    np.testing.assert_allclose(ours.std((0, 1, 2)), ref.std((0, 1, 2)),
                               atol=3.0)
    assert np.abs(ours - ref).mean() < 8.0


def test_repeated_frame_indices_decode_once(video):
    init = ScaledDecordInit(short_side=None)
    results = init(dict(filename=video))
    results['frame_inds'] = np.array([0, 0, 5, 2, 5])
    out = ScaledDecordDecode()(results)
    imgs = np.stack(out['imgs'])
    assert imgs.shape == (5, 360, 640, 3)
    np.testing.assert_array_equal(imgs[0], imgs[1])
    np.testing.assert_array_equal(imgs[2], imgs[4])
    assert out['video_reader'] is None


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match='short_side'):
        ScaledDecordInit(short_side=0)
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        ScaledDecordInit()(dict(filename=str(tmp_path / 'missing.mp4')))
