"""Inference loading goes through the one restore path of
``peft.tunable_state`` (no copy of its own, no config reader from hooks)."""
import inspect

import torch

from adaptformer_mm.apis import init_model, loading
from adaptformer_mm.apis.inference import predict_scores, video_data
from adaptformer_mm.peft import tunable_state_dict
from adaptformer_mm.peft.task_file import TUNABLE_ONLY_KEY, frozen_checksum
from .tiny_tasks import clip, tiny_cfg, trained_model, write_backbone


def test_ddp_tunable_only_checkpoint_uses_the_configs_backbone(tmp_path):
    backbone = write_backbone(str(tmp_path / 'pretrained.pth'))
    cfg = tiny_cfg(3, pretrained=backbone, adapter_cfg=dict(bottleneck=4))
    model = trained_model(cfg, backbone, seed=1)
    path = str(tmp_path / 'epoch_1.pth')
    # As a DDP run would have saved it: every key under ``module.``.
    torch.save(dict(
        meta={TUNABLE_ONLY_KEY: dict(backbone_checksum=frozen_checksum(model),
                                     backbone_prefix='backbone.',
                                     pretrained='')},
        state_dict={'module.' + k: v
                    for k, v in tunable_state_dict(model).items()}), path)
    loaded = init_model(cfg, path)  # backbone from model.backbone.init_cfg
    x = clip(seed=2)[0]
    assert torch.equal(predict_scores(loaded, video_data(x, None)),
                       predict_scores(model, video_data(x, None)))


def test_apis_do_not_import_engine_hooks():
    assert 'engine.hooks' not in inspect.getsource(loading)


def test_classes_and_test_pipeline_are_read_inside_dataset_wrappers():
    from mmengine.config import Config

    from adaptformer_mm.apis import config_classes
    from adaptformer_mm.apis.loading import test_pipeline_cfg
    steps = [dict(type='DecordInit'), dict(type='PackActionInputs')]
    inner = dict(type='VideoDataset', ann_file='a.txt', pipeline=steps,
                 metainfo=dict(classes=['run', 'jump']))
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(
            type='RepeatedAugDataset', dataset=dict(
                type='ClassBalancedSubset', shots=4, dataset=inner))),
        val_dataloader=dict(dataset=dict(type='ClassBalancedSubset',
                                         dataset=inner))))
    assert config_classes(cfg) == ['run', 'jump']
    assert test_pipeline_cfg(cfg) == steps
