"""``VideoDataset`` over synthetic clips that are generated on first use."""
import os.path as osp
from typing import Optional

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.dist import barrier, get_rank

from .synthetic import SYNTHETIC_TASKS, generate_synthetic_dataset


def synthetic_folder(data_root: str, task: str, num_train: int,
                     num_val: int, num_test: int, num_frames: int, size: int,
                     seed: int) -> str:
    """The folder of one generator parameter set under ``data_root``.

    One folder per parameter set: changing a parameter in a config writes a
    new dataset instead of touching the old one.
    """
    test = f'_test{num_test}' if num_test else ''
    return osp.join(
        data_root, f'{task}_train{num_train}_val{num_val}{test}_'
        f'{num_frames}x{size}_seed{seed}')


def prepare_synthetic(data_root: str, **params) -> str:
    """Write (rank 0, the others wait) or reuse the clips; return the folder."""
    folder = synthetic_folder(data_root, **params)
    if get_rank() == 0:
        generate_synthetic_dataset(folder, **params)
    barrier()
    return folder


@DATASETS.register_module()
class SyntheticVideoDataset(VideoDataset):
    """mmaction2's ``VideoDataset`` on clips written by
    :func:`generate_synthetic_dataset`, so a config trains with no download.

    The mp4 files and annotation lists are written under
    ``data_root/{task}_train{num_train}_val{num_val}[_test{num_test}]_{num_frames}x{size}_seed{seed}``
    the first time (by rank 0 while the other ranks wait) and reused afterwards;
    from then on this is a plain ``VideoDataset`` (decord decoding, the usual
    pipeline, ``classes.txt`` as class names).

    Args:
        data_root: parent folder of the generated datasets.
        task: a key of :data:`SYNTHETIC_TASKS`.
        split: ``'train'``, ``'val'`` or (when ``num_test`` > 0) ``'test'``.
        num_train, num_val, num_test, num_frames, size, seed: generator
            parameters (see :func:`generate_synthetic_dataset`); they must
            agree between the splits of one config.
        **kwargs: ``VideoDataset`` arguments (``pipeline``, ``test_mode``...).
    """

    def __init__(self,
                 data_root: str,
                 task: str = 'direction',
                 split: str = 'train',
                 num_train: int = 96,
                 num_val: int = 32,
                 num_test: int = 0,
                 num_frames: int = 16,
                 size: int = 64,
                 seed: int = 0,
                 ann_file: Optional[str] = None,
                 **kwargs) -> None:
        splits = ('train', 'val', 'test') if num_test else ('train', 'val')
        if split not in splits:
            raise ValueError(f'split={split!r}; valid: {splits}'
                             + ('' if num_test else ' (a test split needs '
                                'num_test > 0)'))
        if task not in SYNTHETIC_TASKS:
            raise ValueError(f'task={task!r}; valid: {sorted(SYNTHETIC_TASKS)}')
        params = dict(task=task, num_train=num_train, num_val=num_val,
                      num_test=num_test, num_frames=num_frames, size=size,
                      seed=seed)
        data_root = prepare_synthetic(data_root, **params)
        classes = SYNTHETIC_TASKS[task][0]
        super().__init__(
            ann_file=ann_file or f'{split}_list.txt',
            data_root=data_root,
            data_prefix=dict(video=''),
            metainfo=dict(classes=classes),
            **kwargs)
