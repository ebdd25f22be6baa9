"""Decord loading that lets the decoder scale frames down.

mmaction2's stock path decodes every sampled frame at full size, converts it
to RGB and only then resizes it (``DecordInit`` -> ``SampleFrames`` ->
``DecordDecode`` -> ``Resize(scale=(-1, 256))``). The pair here asks decord
for frames at the size that ``Resize`` would have produced:

* :class:`ScaledDecordInit` opens ``decord.VideoReader(path, width=w,
  height=h)`` with ``(h, w)`` the short-side resize of the video's native
  size (mmcv's rounding, so shapes equal the stock ``Resize``). The native
  size is read once per file from the container header and cached.
* :class:`ScaledDecordDecode` decodes each *distinct* frame index once
  (``get_batch`` on the sorted unique indices) and repeats frames by
  indexing, for clips that sample a frame twice (short videos).

Both are drop-in: with ``short_side=None`` the pair behaves as the stock
pair. What it buys depends on the video size and on the decord build: the
decoder still decodes at full size (the scaling replaces the RGB conversion
+ ``cv2.resize`` of the stock path, not the decoding), so the gain grows
with the native size and can be nil or negative for small videos; see
``docs/benchmarks.md`` ("Decoding at reduced size") for the figures. Pixel
values differ slightly from the stock path (ffmpeg's scaler instead of
mmcv's bilinear ``cv2.resize``); the same section gives the statistics.
"""
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmaction.registry import TRANSFORMS


def short_side_size(height: int, width: int,
                    short_side: int) -> Tuple[int, int]:
    """``(h, w)`` after scaling the short side to ``short_side``.

    Same rounding as mmcv's ``rescale_size`` used by mmaction2's
    ``Resize(scale=(-1, short_side))``: ``int(x * s + 0.5)``.
    """
    scale = short_side / min(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def _native_size(filename: str) -> Tuple[int, int]:
    """``(h, w)`` of a video from its header (OpenCV reads no frame for
    it); decord's first frame when OpenCV cannot tell."""
    import cv2
    cap = cv2.VideoCapture(filename)
    try:
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    if h > 0 and w > 0:
        return h, w
    import decord
    frame = decord.VideoReader(filename, num_threads=1)[0]
    return tuple(frame.shape[:2])


@TRANSFORMS.register_module()
class ScaledDecordInit(BaseTransform):
    """Open a video with decord, decoding at a reduced size.

    Required keys: ``filename``. Added keys: ``video_reader``,
    ``total_frames``, ``avg_fps``, ``native_shape`` (``(h, w)`` of the file).

    Args:
        short_side (int, optional): short side of the decoded frames; the
            long side keeps the aspect ratio (mmaction2's
            ``Resize(scale=(-1, short_side))``). ``None`` decodes at the
            native size, as ``DecordInit``. Defaults to 256.
        num_threads (int): decord decoding threads. Defaults to 1 (one
            DataLoader worker per core).
        decoder_min_ratio (float): let the decoder scale only when the
            native short side is at least this many times ``short_side``;
            smaller videos are decoded at native size and resized by
            :class:`ScaledDecordDecode` with mmcv's bilinear ``imresize``,
            bit-identical to the stock ``Resize``. decord's in-decoder
            scaling was slower than decode + ``cv2.resize`` for 640x360 ->
            256 and faster for 1280x720 -> 256 (docs/benchmarks.md).
            Defaults to 2.0; 1.0 always scales in the decoder.
        cache_sizes (bool): remember each file's native size (one header
            read per file and worker). Defaults to True.
    """

    def __init__(self,
                 short_side: Optional[int] = 256,
                 num_threads: int = 1,
                 decoder_min_ratio: float = 2.0,
                 cache_sizes: bool = True) -> None:
        if short_side is not None and short_side <= 0:
            raise ValueError(f'short_side={short_side} must be a positive '
                             'int or None (native size)')
        self.short_side = short_side
        self.num_threads = num_threads
        self.decoder_min_ratio = decoder_min_ratio
        self.cache_sizes = cache_sizes
        self._sizes: Dict[str, Tuple[int, int]] = {}

    def native_size(self, filename: str) -> Tuple[int, int]:
        size = self._sizes.get(filename)
        if size is None:
            size = _native_size(filename)
            if self.cache_sizes:
                self._sizes[filename] = size
        return size

    def transform(self, results: Dict) -> Dict:
        import decord
        filename = results['filename']
        if osp.splitext(filename)[0] == filename:
            filename = filename + '.mp4'  # as mmaction2's DecordInit
        if not osp.isfile(filename):
            raise FileNotFoundError(f'video not found: {filename}')
        h, w = self.native_size(filename)
        kwargs, resize_to = {}, None
        if self.short_side is not None:
            th, tw = short_side_size(h, w, self.short_side)
            if (th, tw) != (h, w):
                if min(h, w) >= self.decoder_min_ratio * self.short_side:
                    kwargs = dict(height=th, width=tw)
                else:
                    resize_to = (th, tw)
        reader = decord.VideoReader(
            filename, num_threads=self.num_threads, **kwargs)
        results['video_reader'] = reader
        results['total_frames'] = len(reader)
        results['avg_fps'] = reader.get_avg_fps()
        results['native_shape'] = (h, w)
        results['decode_resize'] = resize_to
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(short_side={self.short_side}, '
                f'num_threads={self.num_threads}, '
                f'decoder_min_ratio={self.decoder_min_ratio})')


@TRANSFORMS.register_module()
class ScaledDecordDecode(BaseTransform):
    """Decode the sampled frames, each distinct index once.

    Required keys: ``video_reader``, ``frame_inds``; optional
    ``decode_resize`` (``(h, w)`` set by :class:`ScaledDecordInit` when the
    decoder does not scale: frames are then resized here, as mmaction2's
    ``Resize`` would). Added keys: ``imgs``
    (list of ``(H, W, 3)`` uint8 RGB), ``original_shape``, ``img_shape``.
    ``original_shape`` is the decoded size, as in ``DecordDecode`` (so
    later transforms see the frames they get); the file's own size stays in
    ``native_shape``.
    """

    def transform(self, results: Dict) -> Dict:
        reader = results['video_reader']
        inds = np.asarray(results['frame_inds'])
        if inds.ndim != 1:
            inds = inds.reshape(-1)
            results['frame_inds'] = inds
        unique, inverse = np.unique(inds, return_inverse=True)
        frames = reader.get_batch(unique).asnumpy()
        # Sorted, distinct indices (the usual case) need no reordering.
        imgs = list(frames if np.array_equal(unique, inds)
                    else frames[inverse])
        resize_to = results.pop('decode_resize', None)
        if resize_to is not None:
            import mmcv
            th, tw = resize_to
            imgs = [mmcv.imresize(img, (tw, th), interpolation='bilinear')
                    for img in imgs]
        results['video_reader'] = None
        del reader
        results['imgs'] = imgs
        results['original_shape'] = imgs[0].shape[:2]
        results['img_shape'] = imgs[0].shape[:2]
        return results
