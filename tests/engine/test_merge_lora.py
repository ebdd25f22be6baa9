"""--merge-lora in tools/test.py (MergeLoRAHook) and tools/demo.py: the
trained LoRA model, merged, gives its unmerged outputs from stock modules."""
import copy
import types

import pytest
import torch
from mmengine.logging import MMLogger

from adaptformer_mm.engine.hooks import MergeLoRAHook
from adaptformer_mm.peft import LoRALinear
from adaptformer_mm.peft.task_file import write_task_file
from ..apis.tiny_tasks import (load_tool, noisy_video, tiny_cfg,
                               trained_model, write_backbone)


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
    from adaptformer_mm.apis import build_model
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
