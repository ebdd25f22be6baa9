"""--merge-lora in tools/test.py (MergeLoRAHook) and tools/demo.py: the
trained LoRA model, merged, gives its unmerged outputs from stock modules."""
import copy
import os.path as osp
import types

import mmengine
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from adaptformer_mm.apis import build_model
from adaptformer_mm.engine.hooks import MergeLoRAHook
from adaptformer_mm.peft import LoRALinear
from adaptformer_mm.peft.task_file import write_task_file
from ..apis.tiny_tasks import (load_tool, noisy_video, randomize_trainable,
                               tiny_cfg, trained_model, write_backbone)
from ..conftest import REPO

LORA_DEMO = osp.join(REPO, 'configs', 'demo', 'lora-2_vit-tiny-p16_prim24-'
                     'pre_adamw-24e_synthetic-dynamics.py')


@pytest.fixture(scope='module')
def lora(tmp_path_factory):
    """A trained tiny LoRA task (LoRA on qkv and proj of both blocks), its
    config, task file and pretrained backbone."""
    tmp = tmp_path_factory.mktemp('lora')
    backbone = write_backbone(str(tmp / 'pretrained.pth'))
    cfg = tiny_cfg(3, method='LoRAVideoViT', lora_cfg=dict(rank=2, alpha=4))
    model = trained_model(cfg, backbone, seed=3)
    config, task = str(tmp / 'lora.py'), str(tmp / 'lora_task.pth')
    cfg.dump(config)
    write_task_file(task, model, config=cfg.pretty_text)
    return dict(tmp=tmp, cfg=cfg, model=model, backbone=backbone,
                config=config, task=task)


def runner_of(model):
    logger = MMLogger.get_instance('test_merge_lora')
    return types.SimpleNamespace(model=model, logger=logger)


def test_hook_merges_before_test_with_the_same_outputs(lora):
    model = copy.deepcopy(lora['model']).double()
    x = torch.rand(2, 1, 3, 4, 64, 64, dtype=torch.float64) * 255
    with torch.no_grad():
        unmerged = model.extract_feat(x)[0]
        MergeLoRAHook().before_test(runner_of(model))
        merged = model.extract_feat(x)[0]
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert 'lora' not in ' '.join(model.state_dict())
    torch.testing.assert_close(merged, unmerged, rtol=0, atol=1e-10)
    assert (unmerged - lora['model'].double().extract_feat(x)[0]
            ).abs().max() < 1e-10  # the deepcopy is the trained model
    assert (merged.abs() > 0).any()


def test_hook_refuses_a_model_without_lora(lora):
    cfg = tiny_cfg(3, method='TunableVideoViT')
    with pytest.raises(ValueError, match='no LoRA layer to merge: the '
                       'backbone is TunableVideoViT'):
        MergeLoRAHook().before_test(runner_of(build_model(cfg)))


def test_test_tool_adds_the_hook(lora):
    tool = load_tool('test')
    args = tool.parse_args([lora['config'], lora['task'], '--merge-lora',
                            '--backbone', lora['backbone'], '--work-dir',
                            str(lora['tmp'] / 'wd')])
    cfg = tool.merge_args(copy.deepcopy(lora['cfg']), args)
    types_ = [h['type'] for h in cfg.custom_hooks]
    assert types_[-1] == 'MergeLoRAHook'
    assert 'TunableCheckpointHook' in types_  # the task file is completed
    plain = tool.merge_args(copy.deepcopy(lora['cfg']), tool.parse_args(
        [lora['config'], lora['task'], '--backbone', lora['backbone']]))
    assert 'MergeLoRAHook' not in [h['type'] for h in plain.custom_hooks]


def test_demo_merged_scores_equal_unmerged(lora, capsys):
    demo = load_tool('demo')
    video = noisy_video(str(lora['tmp'] / 'clip.mp4'), 96, 64, frames=16)
    args = [video, lora['config'], lora['backbone'], '--task-file',
            lora['task']]
    unmerged = demo.main(args)
    merged = demo.main(args + ['--merge-lora'])
    assert 'merged LoRA into 4 linear layers' in capsys.readouterr().out
    torch.testing.assert_close(merged.scores, unmerged.scores, rtol=0,
                               atol=1e-5)
    assert not torch.equal(unmerged.scores, torch.full_like(
        unmerged.scores, unmerged.scores[0]))  # a real prediction


def test_test_tool_merged_run_predicts_as_the_unmerged_one(
        tmp_path, synthetic_root, capsys):
    """Through the Runner: ``tools/test.py --merge-lora`` merges after the
    checkpoint is loaded, and every test prediction keeps its scores."""
    cfg = Config.fromfile(LORA_DEMO)
    cfg.model.backbone.update(depth=2, embed_dims=32, num_heads=2,
                              init_cfg=None)
    cfg.model.cls_head.in_channels = 32
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=4, num_workers=0,
                           persistent_workers=False)
        cfg[loader].dataset.update(data_root=synthetic_root, num_train=16,
                                   num_val=8, num_test=8)
    model = build_model(cfg)
    randomize_trainable(model, 5)  # LoRA (both factors) and head
    checkpoint, config = str(tmp_path / 'lora.pth'), str(tmp_path / 'lora.py')
    torch.save(dict(meta={}, state_dict=model.state_dict()), checkpoint)
    cfg.dump(config)
    tool, dumps = load_tool('test'), {}
    for name, flags in (('plain', []), ('merged', ['--merge-lora'])):
        dumps[name] = str(tmp_path / f'{name}.pkl')
        tool.main([config, checkpoint, '--work-dir', str(tmp_path / name),
                   '--dump', dumps[name]] + flags)
    assert 'MergeLoRAHook: merged LoRA into 4 linear layers' in \
        capsys.readouterr().out
    plain, merged = mmengine.load(dumps['plain']), mmengine.load(
        dumps['merged'])
    assert len(plain) == len(merged) == 8
    for a, b in zip(plain, merged):
        torch.testing.assert_close(b['pred_score'], a['pred_score'], rtol=0,
                                   atol=1e-5)
    assert len({tuple(p['pred_score'].tolist()) for p in plain}) > 1
