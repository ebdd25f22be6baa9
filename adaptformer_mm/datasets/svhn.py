"""SVHN (Street View House Numbers, cropped digits) from the official files.

Registered in mmpretrain's ``DATASETS`` as ``SVHN``.
"""
import os.path as osp
from typing import List

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

SVHN_SPLITS = ('train', 'test', 'extra')


@DATASETS.register_module()
class SVHN(BaseDataset):
    """SVHN format 2 (32x32 cropped digits), read from the official ``.mat``
    files of http://ufldl.stanford.edu/housenumbers/ with
    ``scipy.io.loadmat``.

    Folder layout (the files as downloaded, nothing to unpack)::

        data/svhn/
        ├── train_32x32.mat   # 73,257 digits
        ├── test_32x32.mat    # 26,032 digits
        └── extra_32x32.mat   # 531,131 digits (optional)

    Each file holds ``X`` of shape ``(32, 32, 3, N)`` (uint8, RGB) and ``y``
    of shape ``(N, 1)`` with labels 1..10, where **10 means the digit 0**;
    this dataset gives ``gt_label = y % 10``, so class ``k`` is digit ``k``.
    Samples are ``{'img': (32, 32, 3) uint8 RGB array, 'gt_label': int}``
    like mmpretrain's CIFAR datasets, so a config uses ``to_rgb=False`` in
    its data preprocessor and no image-loading transform.

    Args:
        data_root (str): Folder holding the ``.mat`` files.
        split (str): ``'train'``, ``'test'`` or ``'extra'``.
        **kwargs: mmpretrain ``BaseDataset`` arguments (``pipeline``,
            ``test_mode``, ...).
    """

    METAINFO = {'classes': tuple(str(d) for d in range(10))}

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        if split not in SVHN_SPLITS:
            raise ValueError(
                f'split must be one of {SVHN_SPLITS}, got {split!r}')
        self.split = split
        super().__init__(ann_file='', data_root=data_root, **kwargs)

    @property
    def mat_file(self) -> str:
        return osp.join(self.data_root, f'{self.split}_32x32.mat')

    def load_data_list(self) -> List[dict]:
        from scipy.io import loadmat  # only needed by this dataset

        path = self.mat_file
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'SVHN split {self.split!r}: {path} not found; download '
                f'{self.split}_32x32.mat from '
                'http://ufldl.stanford.edu/housenumbers/ into data_root')
        mat = loadmat(path)
        for key in ('X', 'y'):
            if key not in mat:
                raise KeyError(f'{path}: no {key!r} array; expected the '
                               f'official format-2 file with X and y')
        images = np.ascontiguousarray(mat['X'].transpose(3, 0, 1, 2))
        labels = mat['y'].reshape(-1).astype(np.int64) % 10
        if len(images) != len(labels):
            raise ValueError(f'{path}: {len(images)} images but '
                             f'{len(labels)} labels')
        return [
            dict(img=img, gt_label=int(label))
            for img, label in zip(images, labels)
        ]

    def extra_repr(self) -> List[str]:
        return [f'File: \t{self.mat_file}']
