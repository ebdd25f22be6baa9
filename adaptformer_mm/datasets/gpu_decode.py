"""Video decoding on an NVIDIA GPU as a drop-in for mmaction2's decord pair.

mmaction2 decodes videos with ``DecordInit`` -> ``SampleFrames`` ->
``DecordDecode`` on the CPU, one DataLoader worker per core. On a machine
with a GPU, the GPU's video engine (NVDEC) can do the decoding instead:

* :class:`GPUDecodeInit` opens the video with a GPU decoding library and
  sets ``video_reader``, ``total_frames`` and ``avg_fps`` as ``DecordInit``.
* :class:`GPUDecode` is mmaction2's ``DecordDecode`` with the frames decoded
  on the GPU (each distinct index once) and copied back to the host as
  ``(H, W, 3)`` uint8 RGB arrays, so ``imgs``, ``original_shape``,
  ``img_shape`` and every later transform (crops, ``FormatShape``,
  ``PackActionInputs``), hence ``inputs`` and ``data_samples``, are those of
  the stock pipeline: a config swaps the two decode steps and nothing else
  (``configs/_base_/datasets/ssv2_video_gpu-decode.py``).

Backends, tried in this order by ``backend='auto'``:

* ``'torchcodec'`` (PyTorch's media library; ``pip install torchcodec``, a
  build matching torch's CUDA version, plus FFmpeg 4-9 shared libraries for
  demuxing). First because it is a PyTorch package that imports on machines
  without a GPU, returns torch tensors and decodes on NVDEC by default.
* ``'pynvvideocodec'`` (NVIDIA's PyNvVideoCodec; ``pip install
  PyNvVideoCodec``): one self-contained wheel (it ships its demuxer), but
  importing it already needs the NVIDIA driver's video libraries
  (``libnvidia-encode``; in Docker ``NVIDIA_DRIVER_CAPABILITIES`` must
  include ``video``).

The order comes from how cleanly they install, not from speed: neither has
been timed here (no GPU was available), see docs/data_preparation.md for
the command that measures them. NVIDIA DALI is not a backend: its video
reader is a pipeline of its own (file list, sampling, batching and prefetch
on DALI threads) that replaces the Dataset and DataLoader rather than one
step of mmaction2's per-sample pipeline, so configs would change well
beyond the decode steps.

Workers: CUDA cannot be used in a DataLoader worker *forked* from a process
that has touched CUDA (training always has). Use spawned workers
(``train_dataloader = dict(multiprocessing_context='spawn')``; mmengine
passes the key to torch's ``DataLoader``) or ``num_workers=0``;
:class:`GPUDecodeInit` raises an error that says so in a forked worker.
Each worker opens its own CUDA context (some hundred MB of GPU memory).
"""
import importlib
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Type

import numpy as np
import torch
from mmaction.datasets.transforms import DecordDecode
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

_CPU_HINT = ("on a machine without a GPU use dict(type='DecordInit') and "
             "dict(type='DecordDecode') (configs/_base_/datasets/"
             'ssv2_video.py)')


class GPUVideoReader:
    """The ``video_reader`` that :class:`GPUDecodeInit` stores.

    Offers what mmaction2 reads from a decord reader (``len()``,
    ``get_avg_fps()``) and :meth:`get_batch`, which returns host numpy
    frames. A subclass per library opens the file and implements
    :meth:`_decode`; ``module`` and ``install`` name its package.

    Args:
        num_frames (int): frames in the video.
        avg_fps (float): average frame rate.
    """

    module = ''
    install = ''

    def __init__(self, num_frames: int, avg_fps: float) -> None:
        self.num_frames = int(num_frames)
        self.avg_fps = float(avg_fps)

    @classmethod
    def library(cls):
        """The imported backend package (``importlib`` caches it)."""
        return importlib.import_module(cls.module)

    def __len__(self) -> int:
        return self.num_frames

    def get_avg_fps(self) -> float:
        return self.avg_fps

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 RGB frames at ``indices``, on the host."""
        indices = [int(i) for i in indices]
        frames = self._decode(indices)
        if frames.shape[0] != len(indices):
            raise IndexError(
                f'{self.module} returned {frames.shape[0]} frames for the '
                f'{len(indices)} indices {indices} of a {self.num_frames}-'
                'frame video (indices must be in [0, total_frames))')
        return frames.contiguous().cpu().numpy()

    def _decode(self, indices: List[int]) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 RGB frames on the GPU."""
        raise NotImplementedError


class TorchCodecReader(GPUVideoReader):
    """A video opened with ``torchcodec.decoders.VideoDecoder``.

    torchcodec falls back to CPU decoding, silently, for a stream NVDEC
    cannot decode (or without NVDEC); that is warned about here, since it
    would give CPU speed under a GPU config.

    Args:
        filename (str): video file.
        device (str): ``'cuda:N'``.
        **kwargs: more ``VideoDecoder`` arguments (e.g.
            ``seek_mode='approximate'``).
    """

    module = 'torchcodec'
    install = 'pip install torchcodec'

    def __init__(self, filename: str, device: str, **kwargs) -> None:
        decoders = self.library().decoders
        self._decoder = decoders.VideoDecoder(
            filename, device=device, dimension_order='NHWC', **kwargs)
        if self._decoder.cpu_fallback:
            # No file name: Python then shows the warning once, not per file.
            warnings.warn(f'torchcodec decodes on the CPU, not {device}: '
                          f'{self._decoder.cpu_fallback}')
        super().__init__(
            len(self._decoder), self._decoder.metadata.average_fps)

    def _decode(self, indices: List[int]) -> torch.Tensor:
        return self._decoder.get_frames_at(indices).data


class PyNvVideoCodecReader(GPUVideoReader):
    """A video opened with ``PyNvVideoCodec.SimpleDecoder``, RGB output in
    GPU memory, frames taken over through DLPack.

    Args:
        filename (str): video file.
        device (str): ``'cuda:N'``; ``N`` is the decoder's ``gpu_id``.
        **kwargs: more ``SimpleDecoder`` arguments (e.g. ``max_width``).
    """

    module = 'PyNvVideoCodec'
    install = 'pip install PyNvVideoCodec'

    def __init__(self, filename: str, device: str, **kwargs) -> None:
        nvc = self.library()
        self._decoder = nvc.SimpleDecoder(
            filename,
            gpu_id=torch.device(device).index,
            use_device_memory=True,
            output_color_type=nvc.OutputColorType.RGB,
            **kwargs)
        super().__init__(len(self._decoder),
                         self._decoder.get_stream_metadata().average_fps)

    def _decode(self, indices: List[int]) -> torch.Tensor:
        # SimpleDecoder drops out-of-range indices (with a warning);
        # get_batch turns the shortfall into an error.
        frames = self._decoder.get_batch_frames_by_index(indices)
        return torch.stack([torch.from_dlpack(f) for f in frames])


#: Backend name -> reader, in the order ``backend='auto'`` tries them.
BACKENDS: Dict[str, Type[GPUVideoReader]] = {
    'torchcodec': TorchCodecReader,
    'pynvvideocodec': PyNvVideoCodecReader,
}
_VALID = ', '.join(repr(n) for n in ('auto', *BACKENDS))


def _import_error(name: str) -> Optional[str]:
    """Why backend ``name`` cannot be imported, or None if it can."""
    try:
        BACKENDS[name].library()
    except Exception as e:  # PyNvVideoCodec raises RuntimeError w/o driver
        cause = (str(e).strip().splitlines() or [''])[0]
        return f'{type(e).__name__}: {cause}'
    return None


def check_backend_name(backend: str) -> None:
    """ValueError, listing the valid names, unless ``backend`` is one."""
    if backend != 'auto' and backend not in BACKENDS:
        raise ValueError(f'GPUDecodeInit: unknown backend={backend!r}; '
                         f'valid backends: {_VALID}')


def select_backend(backend: str = 'auto') -> str:
    """The backend name that ``backend`` resolves to on this machine.

    With ``'auto'``, passing over a library that does not import is
    warned about, with the library's import error.

    Args:
        backend (str): ``'auto'`` (the first of :data:`BACKENDS` that
            imports) or one of its names.

    Raises:
        ValueError: ``backend`` is no backend name.
        ImportError: the library (every library, for ``'auto'``) cannot be
            imported; the message has the pip line.
    """
    check_backend_name(backend)
    names = list(BACKENDS) if backend == 'auto' else [backend]
    errors = {}
    for name in names:
        errors[name] = _import_error(name)
        if errors[name] is None:
            if len(errors) > 1:
                # 'auto' passed over a library: say which and why, since the
                # speed (and the output, bit for bit) is then the other's.
                skipped = '; '.join(
                    f"backend '{n}' cannot be imported ({errors[n]})"
                    for n in errors if n != name)
                warnings.warn(f'GPUDecodeInit(backend={backend!r}): '
                              f"falling back to '{name}': {skipped}")
            return name
    failures = '; '.join(
        f"backend '{n}' cannot be imported ({errors[n]}), install it with "
        f'`{BACKENDS[n].install}`' for n in names)
    raise ImportError(f'GPUDecodeInit(backend={backend!r}): {failures}. '
                      f'Valid backends: {_VALID}; or {_CPU_HINT}')


def resolve_device(device: str) -> str:
    """``'cuda:N'`` for ``device``; ``'cuda'`` is this rank's GPU,
    ``cuda:$LOCAL_RANK`` (set by torchrun and mmengine's launchers), or
    ``cuda:0`` without a launcher."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type != 'cuda':
        raise ValueError(f"GPUDecodeInit: device={device!r}; valid: 'cuda' "
                         "(this rank's GPU) or 'cuda:N'")
    index = dev.index
    if index is None:
        index = int(os.environ.get('LOCAL_RANK', 0))
    return f'cuda:{index}'


@TRANSFORMS.register_module()
class GPUDecodeInit(BaseTransform):
    """Open a video for decoding on the GPU (``DecordInit``'s contract).

    Required keys: ``filename`` (``.mp4`` is appended to a name without an
    extension, as ``DecordInit`` does). Added keys: ``video_reader`` (a
    :class:`GPUVideoReader`), ``total_frames``, ``avg_fps``.

    The backend, the device and the library are checked when the pipeline
    is built, so a misconfigured run stops before training starts rather
    than in a DataLoader worker. The library is imported again where the
    transform runs (it is not stored, so the transform pickles to spawned
    workers).

    Args:
        backend (str): ``'auto'``, ``'torchcodec'`` or ``'pynvvideocodec'``
            (see the module docstring). Defaults to ``'auto'``.
        device (str): GPU to decode on, ``'cuda'`` (this rank's GPU, from
            ``LOCAL_RANK``) or ``'cuda:N'``. Defaults to ``'cuda'``.
        backend_kwargs (dict, optional): more arguments for the library's
            decoder (torchcodec ``VideoDecoder``, PyNvVideoCodec
            ``SimpleDecoder``). Defaults to None.

    Raises:
        ValueError: unknown ``backend`` or ``device``.
        RuntimeError: torch sees no CUDA device.
        ImportError: the backend's library cannot be imported.
    """

    def __init__(self,
                 backend: str = 'auto',
                 device: str = 'cuda',
                 backend_kwargs: Optional[dict] = None) -> None:
        check_backend_name(backend)
        self.device = resolve_device(device)
        if not torch.cuda.is_available():
            raise RuntimeError(
                f'GPUDecodeInit: device={device!r} asked for, but torch '
                'sees no CUDA device (torch.cuda.is_available() is False: '
                'no GPU or driver, or a CPU-only torch build); '
                f'{_CPU_HINT}')
        self.backend = select_backend(backend)
        self.backend_kwargs = dict(backend_kwargs or {})

    def transform(self, results: Dict) -> Dict:
        # torch's own test (private, used by torch.cuda's lazy init): this
        # process was forked after its parent had touched CUDA.
        if torch.cuda._is_in_bad_fork():
            raise RuntimeError(
                'GPUDecodeInit runs in a DataLoader worker forked from a '
                'process that has initialised CUDA, where CUDA cannot be '
                "used: set multiprocessing_context='spawn' in the "
                '{train,val,test}_dataloader config (as configs/_base_/'
                'datasets/ssv2_video_gpu-decode.py does) or num_workers=0')
        filename = results['filename']
        if osp.splitext(filename)[0] == filename:
            filename = filename + '.mp4'
        if not osp.isfile(filename):
            raise FileNotFoundError(f'video not found: {filename}')
        reader = BACKENDS[self.backend](filename, self.device,
                                        **self.backend_kwargs)
        results['video_reader'] = reader
        results['total_frames'] = len(reader)
        results['avg_fps'] = reader.get_avg_fps()
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(backend={self.backend!r}, '
                f'device={self.device!r})')


@TRANSFORMS.register_module()
class GPUDecode(DecordDecode):
    """Decode the sampled frames on the GPU (``DecordDecode``'s contract).

    mmaction2's ``DecordDecode`` in ``'accurate'`` mode with the frames
    from :class:`GPUDecodeInit`'s reader: each distinct index of
    ``frame_inds`` is decoded once and repeated by indexing (clips of short
    videos sample a frame twice). Everything else (flattening
    ``frame_inds``, ``imgs`` / ``original_shape`` / ``img_shape``, scaling
    ``gt_bboxes`` and ``proposals``, dropping the reader) is the parent's.

    Required keys: ``video_reader``, ``frame_inds``. Added keys: ``imgs``
    (list of ``(H, W, 3)`` uint8 RGB numpy arrays), ``original_shape``,
    ``img_shape``.
    """

    def __init__(self) -> None:
        super().__init__(mode='accurate')

    def _decord_load_frames(self, container: object,
                            frame_inds: np.ndarray) -> List[np.ndarray]:
        if not isinstance(container, GPUVideoReader):
            raise TypeError(
                f'GPUDecode needs the video_reader of GPUDecodeInit, got '
                f'{type(container).__name__}: pair GPUDecodeInit with '
                'GPUDecode, DecordInit with DecordDecode')
        unique, inverse = np.unique(frame_inds, return_inverse=True)
        frames = container.get_batch(unique)
        # Sorted, distinct indices (the usual case) need no reordering.
        if np.array_equal(unique, frame_inds):
            return list(frames)
        return list(frames[inverse.reshape(-1)])

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
