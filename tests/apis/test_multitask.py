"""One backbone, several task files: each task answers as its own full
model, the frozen tensors are shared, other backbones are refused."""
import pytest
import torch

from adaptformer_mm.apis import MultiTaskRecognizer, init_model
from adaptformer_mm.apis.inference import predict_scores, video_data
from adaptformer_mm.peft.task_file import (BackboneMismatchError,
                                           frozen_checksum, write_task_file)
from .tiny_tasks import (clip, noisy_video, save_full_checkpoint, tiny_cfg,
                         trained_model, write_backbone)


@pytest.fixture(scope='module')
def tasks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('multitask')
    backbone = write_backbone(str(tmp / 'pretrained.pth'))
    specs = dict(
        # different adapters, heads and class counts (and one VPT task)
        direction=(tiny_cfg(3, adapter_cfg=dict(bottleneck=8)), 1),
        dynamics=(tiny_cfg(5, adapter_cfg=dict(bottleneck=4)), 2),
        prompts=(tiny_cfg(4, method='VPTVideoViT',
                          prompt_cfg=dict(num_tokens=2)), 3))
    out = {}
    for name, (cfg, seed) in specs.items():
        model = trained_model(cfg, backbone, seed)
        path = str(tmp / f'{name}.pth')
        write_task_file(path, model, config=cfg.pretty_text,
                        classes=[f'{name}{i}' for i in range(
                            cfg.model.cls_head.num_classes)])
        full = save_full_checkpoint(model, cfg, str(tmp / f'{name}_full.pth'))
        out[name] = (model, path, cfg, full)
    return tmp, backbone, out


def test_each_task_equals_its_own_full_model(tasks):
    tmp, backbone, specs = tasks
    recognizer = MultiTaskRecognizer(backbone)
    for name, (_, path, _, _) in specs.items():
        recognizer.add_task(name, path)
    assert recognizer.tasks == list(specs)
    x = clip(seed=7)[0]
    video = noisy_video(str(tmp / 'camera.mp4'), 320, 240)
    answers = recognizer.predict_all(video)
    for name, (model, _, _, _) in specs.items():
        pred = recognizer.predict(x, task=name)
        expected = predict_scores(model, video_data(x, None))
        assert pred.scores.shape == (model.cls_head.num_classes, )
        assert torch.equal(pred.scores, expected), name
        assert pred.topk(2)[0][1].startswith(name)
        from_file = recognizer.predict(video, task=name).scores
        assert torch.equal(answers[name].scores, from_file)
    # The frozen weights exist once: every task model holds the same tensor.
    ptrs = {name: recognizer.task(name).model.backbone.blocks[1].mlp
            .layers[1].weight.data_ptr() for name in specs}
    assert len(set(ptrs.values())) == 1
    assert not any(p.requires_grad and p.data_ptr() in ptrs.values()
                   for p in recognizer.task('direction').model.parameters())


def test_full_tunable_and_task_file_loading_agree(tasks):
    tmp, backbone, specs = tasks
    model, path, cfg, full = specs['dynamics']
    x = clip(seed=3)[0]
    expected = predict_scores(model, video_data(x, None))
    from_full = init_model(cfg, full)
    from_task = init_model(cfg, backbone, task_file=path)
    from_tunable_only = init_model(cfg, path, backbone=backbone)
    for loaded in (from_full, from_task, from_tunable_only):
        assert torch.equal(predict_scores(loaded, video_data(x, None)),
                           expected)
    assert from_task.classes == [f'dynamics{i}' for i in range(5)]


def test_other_backbone_and_bad_names_are_refused(tasks):
    tmp, backbone, specs = tasks
    other = write_backbone(str(tmp / 'other.pth'), seed=1)
    recognizer = MultiTaskRecognizer(other)
    _, path, cfg, _ = specs['direction']
    with pytest.raises(BackboneMismatchError) as err:
        recognizer.add_task('direction', path)
    trained_on = frozen_checksum(specs['direction'][0])
    assert trained_on in str(err.value) and 'other.pth' in str(err.value)
    assert recognizer.tasks == []
    recognizer = MultiTaskRecognizer(backbone)
    recognizer.add_task('direction', path)
    with pytest.raises(ValueError, match="task 'direction' is already"):
        recognizer.add_task('direction', path)
    with pytest.raises(KeyError, match=r"unknown task 'x'.*\['direction'\]"):
        recognizer.predict(clip()[0], task='x')
    with pytest.raises(KeyError, match='does not match the trainable part'):
        recognizer.add_task('wrong', path, config=specs['prompts'][2])
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        recognizer.predict(str(tmp / 'missing.mp4'), task='direction')
