"""``VideoDataset`` over synthetic clips that are generated on first use."""
import os.path as osp
from typing import Optional

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.dist import barrier, get_rank

from .synthetic import (SYNTHETIC_DEFAULTS, SYNTHETIC_TASKS,
                        check_synthetic_params, generate_synthetic_dataset)


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
        split: ``'train'``, ``'val'`` or (when ``num_test`` > 0) ``'test'``.
        ann_file: the split's list (default ``{split}_list.txt``).
        **kwargs: the generator parameters of :data:`SYNTHETIC_DEFAULTS`
            (``task``, ``num_train``, ``num_val``, ``num_test``,
            ``num_frames``, ``size``, ``seed``; defaults and meaning those of
            :func:`generate_synthetic_dataset`), which must agree between
            the splits of one config; the rest are ``VideoDataset``
            arguments (``pipeline``, ``test_mode``...).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: Optional[str] = None,
                 **kwargs) -> None:
        params = {name: kwargs.pop(name, default)
                  for name, default in SYNTHETIC_DEFAULTS.items()}
        splits = ('train', 'val', 'test') if params['num_test'] \
            else ('train', 'val')
        if split not in splits:
            raise ValueError(f'split={split!r}; valid: {splits}'
                             + ('' if params['num_test'] else
                                ' (a test split needs num_test > 0)'))
        # Checked on every rank, before rank 0 generates and the others wait.
        check_synthetic_params(params['task'], params['size'])
        data_root = prepare_synthetic(data_root, **params)
        classes = SYNTHETIC_TASKS[params['task']][0]
        super().__init__(
            ann_file=ann_file or f'{split}_list.txt',
            data_root=data_root,
            data_prefix=dict(video=''),
            metainfo=dict(classes=classes),
            **kwargs)
