"""Run a recognizer on one video file or clip tensor (or an image
classifier on one image) and rank its classes."""
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from mmaction.structures import ActionDataSample
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from torch import Tensor, nn

from .loading import test_pipeline_cfg

VideoInput = Union[str, Tensor]
ImageInput = Union[str, Tensor]


@dataclass
class Prediction:
    """Scores of one video for one task.

    Attributes:
        scores: ``(num_classes,)`` as the model's head returns them from
            ``predict`` (softmax or raw per its ``average_clips``).
        classes: class names, index = label ([] if unknown: labels then
            print as their index).
        task: the task's name ('' for a single model).
    """
    scores: Tensor
    classes: List[str] = field(default_factory=list)
    task: str = ''

    def name(self, label: int) -> str:
        return self.classes[label] if label < len(self.classes) \
            else str(label)

    def topk(self, k: int = 5) -> List[Tuple[int, str, float]]:
        """``[(label, name, score), ...]``, best first."""
        k = min(k, self.scores.numel())
        values, labels = self.scores.topk(k)
        return [(int(i), self.name(int(i)), float(v))
                for v, i in zip(values, labels)]

    @property
    def label(self) -> int:
        return int(self.scores.argmax())

    def format(self, k: int = 5) -> str:
        head = f'task {self.task}: ' if self.task else ''
        return head + ', '.join(f'{name} {score:.4f}'
                                for _, name, score in self.topk(k))


def is_image_config(cfg) -> bool:
    """An image classification config (mmpretrain's ``default_scope``)."""
    return cfg.get('default_scope') == 'mmpretrain'


def build_test_pipeline(cfg) -> Callable[[dict], dict]:
    """The config's test pipeline (decord decoding, sampling, resizing...).

    An image config's pipeline starts after loading, as mmpretrain's
    ``ImageClassificationInferencer`` builds it: ``LoadImageFromFile`` is
    removed and :func:`image_data` reads the file."""
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    steps = test_pipeline_cfg(cfg)
    if is_image_config(cfg):
        from mmpretrain.datasets import remove_transform
        steps = remove_transform(steps, 'LoadImageFromFile')
    return Compose(steps)


def input_data(cfg) -> Callable[[Union[str, Tensor], Callable], dict]:
    """:func:`image_data` for an image config, else :func:`video_data`."""
    return image_data if is_image_config(cfg) else video_data


def require_file(path, kind: str) -> None:
    """An input that is not a tensor must be a file that exists."""
    if not isinstance(path, str):
        raise TypeError(f'{kind} must be a file path or a tensor, got '
                        f'{type(path).__name__}')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{kind} file not found: {path}')


def image_data(image: ImageInput,
               pipeline: Optional[Callable[[dict], dict]]) -> dict:
    """One packed image sample: a file read as mmpretrain's inferencer
    reads it (``mmcv.imread``, BGR) through ``pipeline`` (from
    :func:`build_test_pipeline`), or a ``(C, H, W)`` tensor as the pipeline
    would output it, in pixel values."""
    from mmpretrain.structures import DataSample
    if isinstance(image, Tensor):
        if image.dim() != 3:
            raise ValueError('an image tensor must be (C, H, W), got shape '
                             f'{tuple(image.shape)}')
        return dict(inputs=image, data_samples=DataSample())
    require_file(image, 'image')
    import mmcv
    img = mmcv.imread(image)
    if img is None:
        raise RuntimeError(f'cannot read image {image} (not an image file '
                           'OpenCV decodes)')
    return pipeline(dict(img=img, img_shape=img.shape[:2],
                         ori_shape=img.shape[:2]))


def video_data(video: VideoInput,
               pipeline: Optional[Callable[[dict], dict]]) -> dict:
    """One packed sample: a video file through ``pipeline``, or a clip
    tensor as the pipeline would output it: ``(C, T, H, W)`` or
    ``(views, C, T, H, W)`` in pixel values (the model's data preprocessor
    normalises it)."""
    if isinstance(video, Tensor):
        clip = video if video.dim() == 5 else video.unsqueeze(0)
        if clip.dim() != 5:
            raise ValueError('a clip tensor must be (C, T, H, W) or (views, '
                             f'C, T, H, W), got shape {tuple(video.shape)}')
        return dict(inputs=clip, data_samples=ActionDataSample())
    require_file(video, 'video')
    data = dict(filename=video, label=-1, start_index=0, modality='RGB')
    try:
        return pipeline(data)
    except Exception as e:  # decord raises its own error types
        raise RuntimeError(f'cannot read video {video} with the test '
                           f'pipeline ({type(e).__name__}: {e})') from e


@torch.no_grad()
def predict_scores(model: nn.Module, data: dict) -> Tensor:
    """``model.test_step`` on one packed sample: its ``pred_score`` as
    ``(num_classes,)`` (views averaged where the head leaves them apart,
    i.e. ``average_clips=None``)."""
    result = model.test_step(pseudo_collate([data]))[0]
    scores = result.pred_score.detach().float().cpu()
    return scores.reshape(-1, scores.shape[-1]).mean(0)


def inference(model: nn.Module,
              source: Union[VideoInput, ImageInput],
              classes: Sequence[str] = (),
              pipeline: Optional[Callable[[dict], dict]] = None,
              task: str = '') -> Prediction:
    """Scores of ``model`` (built by :func:`init_model`, so ``model.cfg`` is
    set) for one input: a video file or clip tensor for a video config, an
    image file or ``(C, H, W)`` tensor for an image config."""
    if pipeline is None and isinstance(source, str):
        pipeline = build_test_pipeline(model.cfg)
    data = input_data(model.cfg)(source, pipeline)
    scores = predict_scores(model, data)
    return Prediction(scores=scores, classes=list(classes), task=task)
