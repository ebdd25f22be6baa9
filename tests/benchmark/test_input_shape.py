"""The clip shape a config trains on: from its pipeline, then its
backbone; the command line's frames and size override both."""
import os.path as osp

from mmengine.config import Config

from adaptformer_mm.apis import load_config
from adaptformer_mm.benchmark.input_shape import (config_input_shape,
                                                  pipeline_clip_shape)

from ..conftest import DEMO_CONFIG, REPO


def test_input_shape_comes_from_the_pipeline_then_the_backbone():
    ssv2 = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'ssv2_video.py'))
    assert pipeline_clip_shape(ssv2.train_pipeline) == (8, (224, 224))
    assert pipeline_clip_shape(ssv2.test_pipeline) == (8, (224, 224))
    cfg = load_config(DEMO_CONFIG)
    assert tuple(config_input_shape(cfg)) == (3, 8, 64, 64)
    assert tuple(config_input_shape(cfg, frames=16, size=32)) == \
        (3, 16, 32, 32)
    cfg.train_dataloader.dataset.pipeline = []
    cfg.model.backbone.num_frames = 4
    assert tuple(config_input_shape(cfg)) == (3, 4, 64, 64)
