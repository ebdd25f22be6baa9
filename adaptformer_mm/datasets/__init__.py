from .balanced_subset import ClassBalancedSubset
from .gpu_decode import GPUDecode, GPUDecodeInit
from .repeated_aug import RepeatedAugDataset, repeated_aug_collate
from .robust import (AnnotationError, BadSampleError, BadSampleMixin,
                     CheckedVideoDataset)
from .svhn import SVHN
from .synthetic import SYNTHETIC_TASKS, generate_synthetic_dataset
from .synthetic_video_dataset import (SyntheticVideoDataset, prepare_synthetic,
                                      synthetic_folder)
from .transforms import ScaledDecordDecode, ScaledDecordInit, short_side_size

__all__ = [
    'AnnotationError', 'BadSampleError', 'BadSampleMixin',
    'CheckedVideoDataset', 'ClassBalancedSubset', 'GPUDecode',
    'GPUDecodeInit', 'RepeatedAugDataset',
    'ScaledDecordDecode', 'ScaledDecordInit', 'SVHN', 'SYNTHETIC_TASKS',
    'SyntheticVideoDataset', 'generate_synthetic_dataset',
    'prepare_synthetic', 'repeated_aug_collate', 'short_side_size',
    'synthetic_folder'
]
