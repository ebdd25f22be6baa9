"""Repeated augmentation: decode a video once, train on K augmented clips.

VideoMAE's fine-tuning (Tong et al., 2022, ``num_sample``; after Hoffer et
al., 2020 and DeiT) decodes each sampled clip once and applies the spatial
augmentation K times. :class:`RepeatedAugDataset` wraps a dataset and splits
its pipeline in two: the *decode* part (up to and including the last
``*Decode`` step: opening, frame sampling, decoding) runs once per video,
the *augment* part (crops, flips, resizes, ``FormatShape``,
``PackActionInputs``) K times on copies. ``dataset[i]`` is a list of K packed
samples, each with its own ``data_samples`` (label), and
:func:`repeated_aug_collate` flattens the lists of a batch.

Epoch and batch: the wrapper has one entry per video, so the sampler and an
epoch still mean one pass over the videos; a loader of ``batch_size=B``
yields ``B x K`` clips from ``B`` videos. To keep the clips per step of a
K=1 recipe of ``N`` clips, use ``batch_size=N // K``: an epoch then takes K
times as many steps (every video once, K views each), so divide
``max_epochs`` by K to keep the number of steps. (``auto_scale_lr`` counts
the loader's batch, i.e. videos: set its ``base_batch_size`` accordingly.)

Equal to K=1 in expectation: each of the K views is marginally distributed
exactly as the one clip of a K=1 pipeline (same temporal sampling, an
independent draw of the spatial augmentation), so the expected loss and
gradient of every clip, hence of a batch of the same number of clips, are
those of K=1. Only the variance differs (the views of one video are
correlated), which is the price paid for K times fewer decodes.
"""
import copy
from typing import List, Optional, Sequence, Union

from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import FUNCTIONS
from mmaction.registry import DATASETS

# step_name: also importable from here (its first home).
from .pipeline import decode_steps, step_name

__all__ = ['RepeatedAugDataset', 'repeated_aug_collate', 'step_name']


@DATASETS.register_module()
class RepeatedAugDataset:
    """K independently augmented clips per decoded video.

    Args:
        dataset (dict | Dataset): the wrapped video dataset (config or
            instance) with its full training pipeline.
        num_repeats (int): K, clips per decoded video. Defaults to 2.
        num_decode_steps (int, optional): how many leading pipeline steps
            run once per video. Default: up to and including the last step
            whose type ends with ``Decode`` (``DecordDecode``,
            ``ScaledDecordDecode``, ``PyAVDecode``, ...:
            :func:`adaptformer_mm.datasets.pipeline.decode_steps`).
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 num_repeats: int = 2,
                 num_decode_steps: Optional[int] = None) -> None:
        if num_repeats < 1:
            raise ValueError(f'num_repeats={num_repeats} must be >= 1')
        self.dataset = (DATASETS.build(dataset) if isinstance(dataset, dict)
                        else dataset)
        self.num_repeats = num_repeats
        transforms = list(self.dataset.pipeline.transforms)
        self.num_decode_steps = decode_steps(transforms, num_decode_steps)
        # The wrapped dataset keeps its own loading (and, for
        # CheckedVideoDataset, its bad-sample handling) for the decode part.
        self.dataset.pipeline = Compose(transforms[:self.num_decode_steps])
        self.augment = Compose(transforms[self.num_decode_steps:])
        self.metainfo = getattr(self.dataset, 'metainfo', {})

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> List[dict]:
        decoded = self.dataset[idx]
        return [self.augment(copy.deepcopy(decoded))
                for _ in range(self.num_repeats)]

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)


@FUNCTIONS.register_module()
def repeated_aug_collate(data_batch: Sequence[List[dict]]) -> dict:
    """``pseudo_collate`` of a batch of :class:`RepeatedAugDataset` items
    (lists of K samples), flattened video-major: ``B x K`` samples."""
    return pseudo_collate([s for views in data_batch for s in views])
