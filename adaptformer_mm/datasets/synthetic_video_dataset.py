"""``VideoDataset`` over synthetic clips that are generated on first use."""
import os.path as osp
from typing import Optional

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.dist import barrier, get_rank

from .synthetic import SYNTHETIC_TASKS, generate_synthetic_dataset


@DATASETS.register_module()
class SyntheticVideoDataset(VideoDataset):
    """mmaction2's ``VideoDataset`` on clips written by
    :func:`generate_synthetic_dataset`, so a config trains with no download.

    The mp4 files and annotation lists are written under
    ``data_root/{task}_train{num_train}_val{num_val}_{num_frames}x{size}_seed{seed}``
    the first time (by rank 0 while the other ranks wait) and reused afterwards;
    from then on this is a plain ``VideoDataset`` (decord decoding, the usual
    pipeline, ``classes.txt`` as class names).

    Args:
        data_root: parent folder of the generated datasets.
        task: a key of :data:`SYNTHETIC_TASKS`.
        split: ``'train'`` or ``'val'``.
        num_train, num_val, num_frames, size, seed: generator parameters
            (see :func:`generate_synthetic_dataset`); they must agree between
            the train and val datasets of one config.
        **kwargs: ``VideoDataset`` arguments (``pipeline``, ``test_mode``...).
    """

    def __init__(self,
                 data_root: str,
                 task: str = 'direction',
                 split: str = 'train',
                 num_train: int = 96,
                 num_val: int = 32,
                 num_frames: int = 16,
                 size: int = 64,
                 seed: int = 0,
                 ann_file: Optional[str] = None,
                 **kwargs) -> None:
        if split not in ('train', 'val'):
            raise ValueError(f"split={split!r}; valid: 'train', 'val'")
        if task not in SYNTHETIC_TASKS:
            raise ValueError(f'task={task!r}; valid: {sorted(SYNTHETIC_TASKS)}')
        params = dict(task=task, num_train=num_train, num_val=num_val,
                      num_frames=num_frames, size=size, seed=seed)
        # One folder per parameter set: changing a parameter in a config
        # writes a new dataset instead of touching the old one.
        data_root = osp.join(
            data_root, f'{task}_train{num_train}_val{num_val}_'
            f'{num_frames}x{size}_seed{seed}')
        if get_rank() == 0:
            generate_synthetic_dataset(data_root, **params)
        barrier()
        classes = SYNTHETIC_TASKS[task][0]
        super().__init__(
            ann_file=ann_file or f'{split}_list.txt',
            data_root=data_root,
            data_prefix=dict(video=''),
            metainfo=dict(classes=classes),
            **kwargs)
