from .robust import (AnnotationError, BadSampleError, BadSampleMixin,
                     BadSampleReportHook, CheckedVideoDataset)
from .svhn import SVHN
from .synthetic import SYNTHETIC_TASKS, generate_synthetic_dataset
from .synthetic_video_dataset import SyntheticVideoDataset

__all__ = [
    'AnnotationError', 'BadSampleError', 'BadSampleMixin',
    'BadSampleReportHook', 'CheckedVideoDataset', 'SVHN', 'SYNTHETIC_TASKS',
    'SyntheticVideoDataset', 'generate_synthetic_dataset'
]
