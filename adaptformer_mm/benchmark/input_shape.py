"""The clip (or image) shape a config trains on, read from its pipeline and
backbone."""
from typing import List, NamedTuple, Optional, Sequence, Tuple

from mmengine.config import Config

from adaptformer_mm.datasets.pipeline import step_name

# Pipeline steps that fix the spatial size of a clip, and the key holding it.
_SIZE_KEYS = {
    'CenterCrop': 'crop_size',
    'RandomCrop': 'size',
    'ThreeCrop': 'crop_size',
    'TenCrop': 'crop_size',
    'MultiScaleCrop': 'input_size',
    # mmpretrain (mmaction2's RandomResizedCrop has no size: skipped).
    'RandomResizedCrop': 'scale',
}

#: The model types measured, by kind: video recognizers take clips
#: ``(C, T, H, W)``, image classifiers images ``(C, H, W)``.
MODEL_KINDS = {'Recognizer3D': 'video', 'ImageClassifier': 'image'}


class InputShape(NamedTuple):
    """One clip ``(C, T, H, W)``, or one image (``frames`` None)."""
    channels: int
    frames: Optional[int]
    height: int
    width: int

    @property
    def dims(self) -> Tuple[int, ...]:
        """``(C, T, H, W)`` for a clip, ``(C, H, W)`` for an image."""
        return tuple(v for v in self if v is not None)

    @property
    def is_image(self) -> bool:
        return self.frames is None

    def __str__(self) -> str:
        return 'x'.join(str(v) for v in self.dims)


def model_kind(model_cfg) -> str:
    """``'video'`` or ``'image'`` (:data:`MODEL_KINDS`) for a ``model``
    config; another model type is a ``ValueError``."""
    kind = MODEL_KINDS.get(str(model_cfg.get('type', '')).split('.')[-1])
    if kind is None:
        raise ValueError(
            f'model.type={model_cfg.get("type")!r}: the benchmark measures '
            'video recognizers (model.type=Recognizer3D) and image '
            'classifiers (ImageClassifier)')
    return kind


def _pair(value) -> Tuple[int, int]:
    """``(h, w)`` from an int or mmaction2's ``(w, h)`` tuple."""
    if isinstance(value, int):
        return value, value
    w, h = value
    return int(h), int(w)


def pipeline_clip_shape(
        pipeline: Sequence[dict]) -> Tuple[Optional[int], Optional[tuple]]:
    """``(frames, (h, w))`` a pipeline's clips have; ``None`` for what the
    pipeline leaves open (e.g. no fixed-size crop or resize).

    Frames are the frame sampler's ``clip_len``; the size is that of the last
    step that fixes it: a crop (``CenterCrop``, ``ThreeCrop``, ...) or a
    ``Resize`` to an exact ``scale`` (``keep_ratio=False``).
    """
    frames, size = None, None
    for step in pipeline:
        kind = step_name(step)
        if 'clip_len' in step and ('Sample' in kind or 'Frames' in kind):
            frames = int(step['clip_len'])
        elif kind in _SIZE_KEYS and step.get(_SIZE_KEYS[kind]) is not None:
            size = _pair(step[_SIZE_KEYS[kind]])
        elif kind == 'Resize' and not step.get('keep_ratio', True):
            scale = step.get('scale')
            if isinstance(scale, (tuple, list)) and min(scale) > 0:
                size = _pair(tuple(scale))
    return frames, size


def train_pipeline(cfg: Config) -> List[dict]:
    """The pipeline ``train_dataloader`` runs (a top-level
    ``train_pipeline`` only when the loader states none: it is a naming
    habit, and --cfg-options on the loader leave it stale)."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset', {})
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # RepeatDataset and other wrappers
    if 'pipeline' in dataset:
        return list(dataset['pipeline'] or [])
    return list(cfg.get('train_pipeline') or [])


def config_input_shape(cfg: Config,
                       frames: Optional[int] = None,
                       size: Optional[int] = None) -> InputShape:
    """The clip shape the config trains on (an image shape, ``frames``
    None, for an image classifier).

    Frames and size come from the training pipeline (``clip_len``, the last
    fixed crop / resize); what it leaves open comes from the backbone
    (``num_frames``, ``img_size``). ``frames`` / ``size`` override both.
    """
    backbone = cfg.model.get('backbone') or {}
    pipe_frames, pipe_size = pipeline_clip_shape(train_pipeline(cfg))
    if model_kind(cfg.model) == 'image':
        if frames:
            raise ValueError(f'--frames {frames}: {cfg.model.type} '
                             'classifies images (no frames)')
        t = None
    else:
        t = int(frames or pipe_frames or backbone.get('num_frames', 16))
    if size:
        h = w = size
    elif pipe_size:
        h, w = pipe_size
    else:
        h, w = _pair(backbone.get('img_size', 224))
    shape = InputShape(int(backbone.get('in_channels', 3)), t, int(h),
                       int(w))
    for name, value in zip(shape._fields, shape):
        if value is not None and value <= 0:
            raise ValueError(f'input {name}={value} (from the config or the '
                             'command line) must be positive')
    return shape
