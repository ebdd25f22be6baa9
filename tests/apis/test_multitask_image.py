"""Image tasks (mmpretrain configs, e.g. the CIFAR-100 recipes) on one
frozen image ViT or Swin: each answers as its own full model, from an image
file or a tensor, with the frozen tensors shared."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.models import SwinTransformer, VisionTransformer

from adaptformer_mm.apis import MultiTaskRecognizer, build_model, init_model
from adaptformer_mm.apis.inference import (build_test_pipeline, image_data,
                                           predict_scores)
from adaptformer_mm.peft.task_file import write_task_file
from ..conftest import REPO
from .tiny_tasks import load_tool, randomize_trainable

ARCH_VIT = dict(embed_dims=64, num_layers=2, num_heads=4,
                feedforward_channels=128)
ARCH_SWIN = dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4])
# family -> tiny stock backbone (224x224 inputs, as the recipes' pipelines
# give), config overrides, the frozen tensor to check for sharing, and the
# tasks: name -> (recipe, classes, seed).
STEM = 'sup-in21k_8xb128-sgd-coslr-100e_cifar100.py'
FAMILIES = {
    'vit': dict(
        stock=lambda: VisionTransformer(
            arch=ARCH_VIT, img_size=224, patch_size=16,
            out_type='cls_token', final_norm=True),
        backbone=dict(arch=ARCH_VIT), neck='neck', width=64,
        frozen=lambda m: m.backbone.layers[1].ffn.layers[1].weight,
        tasks={'adapters': (f'adaptformer/adaptformer-64_vit-base-p16_{STEM}',
                            5, 1),
               'prompts': (f'vpt/vpt-deep-1_vit-base-p16_{STEM}', 3, 2)}),
    'swin': dict(
        stock=lambda: SwinTransformer(
            arch=ARCH_SWIN, img_size=224, patch_size=4, window_size=7,
            out_indices=(1, )),
        backbone=dict(arch=ARCH_SWIN, out_indices=(1, )),
        neck='neck.1', width=64,
        frozen=lambda m: m.backbone.stages[1].blocks[0].ffn.layers[1].weight,
        tasks={'adapters': (f'adaptformer/adaptformer-dim12_swin-base-w7_'
                            f'{STEM}', 4, 3),
               'prompts': (f'vpt/vpt-deep-1_swin-base-w7_{STEM}', 3, 4)}),
}


def tiny_image_cfg(family, recipe, num_classes, backbone):
    """The recipe at a tiny width and depth (still 224x224 inputs)."""
    spec = FAMILIES[family]
    cfg = Config.fromfile(f'{REPO}/configs/image/{recipe}')
    cfg.model.backbone.update(spec['backbone'])
    cfg.model.backbone.init_cfg.checkpoint = backbone
    neck = cfg.model.neck if spec['neck'] == 'neck' else cfg.model.neck[1]
    neck.input_features = spec['width']
    cfg.model.head.update(in_channels=spec['width'], num_classes=num_classes)
    cfg.model.data_preprocessor.num_classes = num_classes
    return cfg


@pytest.fixture(scope='module', params=list(FAMILIES))
def tasks(request, tmp_path_factory):
    family = request.param
    tmp = tmp_path_factory.mktemp(f'image_tasks_{family}')
    torch.manual_seed(0)
    stock = FAMILIES[family]['stock']()
    backbone = str(tmp / 'pretrained.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in stock.state_dict().items()}},
               backbone)
    out = {}
    for name, (recipe, classes, seed) in FAMILIES[family]['tasks'].items():
        cfg = tiny_image_cfg(family, recipe, classes, backbone)
        model = build_model(cfg)
        model.init_weights()  # loads the backbone file
        randomize_trainable(model, seed)
        model.eval()
        path = str(tmp / f'{name}.pth')
        write_task_file(path, model, config=cfg.pretty_text,
                        classes=[f'{name}{i}' for i in range(classes)])
        out[name] = (model, path, cfg)
    rng = np.random.default_rng(0)
    image = str(tmp / 'photo.png')
    cv2.imwrite(image, rng.integers(0, 256, (180, 300, 3), dtype=np.uint8))
    return tmp, backbone, out, image, FAMILIES[family]['frozen']


def test_image_tasks_equal_their_own_models_from_a_file_or_tensor(tasks):
    tmp, backbone, specs, image, frozen = tasks
    recognizer = MultiTaskRecognizer(backbone)
    for name, (_, path, _) in specs.items():
        recognizer.add_task(name, path)
    answers = recognizer.predict_all(image)
    x = torch.rand(3, 224, 224) * 255
    for name, (model, _, cfg) in specs.items():
        # the file: read as mmpretrain's inferencer reads it, the task's
        # test pipeline (short side 256, centre crop 224), its own model
        expected = predict_scores(
            model, image_data(image, build_test_pipeline(cfg)))
        assert expected.shape == (cfg.model.head.num_classes, )
        assert torch.equal(answers[name].scores, expected), name
        assert answers[name].topk(1)[0][1].startswith(name)
        assert torch.equal(recognizer.predict(x, task=name).scores,
                           predict_scores(model, image_data(x, None)))
        # a task file on the backbone, loaded alone, answers the same
        alone = init_model(cfg, backbone, task_file=specs[name][1])
        assert torch.equal(predict_scores(alone, image_data(x, None)),
                           predict_scores(model, image_data(x, None)))
    assert not torch.equal(answers['adapters'].scores[:3],
                           answers['prompts'].scores)
    ptrs = {name: frozen(recognizer.task(name).model).data_ptr()
            for name in specs}
    assert len(set(ptrs.values())) == 1  # one frozen copy for both
    assert not frozen(recognizer.task('adapters').model).requires_grad


def test_image_inputs_errors_name_the_problem(tasks):
    tmp, backbone, specs, _, _ = tasks
    recognizer = MultiTaskRecognizer(backbone)
    recognizer.add_task('prompts', specs['prompts'][1])
    with pytest.raises(ValueError, match=r'must be \(C, H, W\), got shape '
                       r'\(1, 3, 224, 224\)'):
        recognizer.predict(torch.zeros(1, 3, 224, 224), task='prompts')
    with pytest.raises(FileNotFoundError, match='image file not found: .*'
                       'nope.png'):
        recognizer.predict(str(tmp / 'nope.png'), task='prompts')
    text = tmp / 'notes.txt'
    text.write_text('not an image')
    with pytest.raises(RuntimeError, match='cannot read image .*notes.txt'):
        recognizer.predict(str(text), task='prompts')


def test_multitask_demo_answers_image_tasks(tasks, capsys):
    tmp, backbone, specs, image, _ = tasks
    preds = load_tool('multitask_demo').main(
        [image, backbone] + [f'{name}={path}'
                             for name, (_, path, _) in specs.items()] +
        ['--topk', '2'])
    out = capsys.readouterr().out
    for name, (model, _, cfg) in specs.items():
        expected = predict_scores(
            model, image_data(image, build_test_pipeline(cfg)))
        assert torch.equal(preds[name].scores, expected)
        assert f'[{name}] {preds[name].topk(1)[0][1]} ' in out
