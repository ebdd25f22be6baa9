"""Inference: single models, tunable-only checkpoints and task files, and
many tasks on one frozen backbone (:class:`MultiTaskRecognizer`)."""
from .inference import Prediction, build_test_pipeline, inference
from .loading import (build_model, build_on_meta, config_classes, init_model,
                      load_config, load_weights, read_backbone,
                      read_label_file, weights_on_meta)
from .multitask import MultiTaskRecognizer, Task

__all__ = [
    'MultiTaskRecognizer', 'Task', 'Prediction', 'build_model',
    'build_on_meta', 'build_test_pipeline', 'config_classes', 'inference',
    'init_model', 'load_config', 'load_weights', 'read_backbone',
    'read_label_file', 'weights_on_meta'
]
