"""Tiny tasks on one tiny pretrained backbone, shared by the tests of task
files, the checkpoint hook, the inference API and the tools."""
import os.path as osp

import torch
from mmengine.config import Config

from adaptformer_mm.apis import build_model, read_backbone
from mmaction.models.backbones.vit_mae import VisionTransformer

from ..conftest import load_tool  # noqa: F401  (the tool tests import it here)

VIT = dict(img_size=64, patch_size=16, embed_dims=64, depth=2, num_heads=4,
           num_frames=4, tubelet_size=2)
# Keeps the aspect ratio, then crops: what real (non-square) footage needs.
TEST_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 64)),
    dict(type='CenterCrop', crop_size=64),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


def write_backbone(path, seed=0, **vit):
    """A random stock VideoMAE ViT saved as a bare pretrained backbone."""
    torch.manual_seed(seed)
    stock = VisionTransformer(**{**VIT, **vit})
    with torch.no_grad():
        for name, param in stock.named_parameters():
            if param.dim() == 1:  # no identity LayerNorm hides a mistake
                param.normal_(1.0 if name.endswith('weight') else 0.0, 0.2)
    torch.save({'state_dict': stock.state_dict()}, path)
    return path


def tiny_cfg(num_classes=3, method='AdaptFormerVideoViT', pretrained=None,
             classes=None, **backbone):
    """Config of a tiny recognizer (method = backbone type)."""
    backbone = dict(type=method, **VIT, **backbone)
    if pretrained:
        backbone['init_cfg'] = dict(type='Pretrained', checkpoint=pretrained)
    classes = classes or [f'class_{i}' for i in range(num_classes)]
    return Config(dict(
        default_scope='mmaction',
        model=dict(
            type='Recognizer3D',
            backbone=backbone,
            cls_head=dict(type='BNLinearHead', num_classes=num_classes,
                          in_channels=VIT['embed_dims']),
            data_preprocessor=dict(
                type='ActionDataPreprocessor', mean=[114.0] * 3,
                std=[57.0] * 3, format_shape='NCTHW')),
        test_pipeline=TEST_PIPELINE,
        test_dataloader=dict(dataset=dict(metainfo=dict(classes=classes)))))


def randomize_trainable(model, seed):
    """Every trainable tensor of ``model`` set as if trained (normal, std
    0.3, from ``seed``); returns the generator for more draws."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return gen


def trained_model(cfg, backbone_path, seed):
    """``cfg``'s model on the backbone with its trainable tensors (and the
    head's BatchNorm statistics) set as if trained: every task differs."""
    model = build_model(cfg)
    model.load_state_dict(read_backbone(backbone_path), strict=False)
    gen = randomize_trainable(model, seed)
    with torch.no_grad():
        bn = getattr(model.cls_head, 'bn', None)
        if bn is not None:
            bn.running_mean.normal_(0, 0.5, generator=gen)
            bn.running_var.uniform_(0.5, 2.0, generator=gen)
    return model.eval()


def save_full_checkpoint(model, cfg, path, classes=None):
    """As mmengine saves it: ``meta`` (config text, dataset classes) and
    every tensor."""
    torch.save(dict(
        meta=dict(cfg=cfg.pretty_text, epoch=3, iter=30,
                  dataset_meta=dict(classes=classes or [])),
        state_dict=model.state_dict()), path)
    return path


def clip(seed=0, size=64):
    """A ``(1, 3, 4, size, size)`` clip in pixel values."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, 4, size, size, generator=gen) * 255


def noisy_video(path, width, height, frames=24, seed=0):
    """A camera-like clip: textured, noisy, a moving blob, any size."""
    import numpy as np

    from adaptformer_mm.datasets.synthetic import write_video
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = (np.sin(xx / 17.0) + np.cos(yy / 11.0)) * 40 + 110
    video = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        frame = base[..., None] + rng.normal(0, 25, (height, width, 3))
        cx, cy = (width * (0.2 + 0.6 * t / frames)), height / 2
        frame[(xx - cx) ** 2 + (yy - cy) ** 2 < (height / 6) ** 2] = 230
        video[t] = np.clip(frame, 0, 255).astype(np.uint8)
    if path.endswith('.avi'):
        import cv2
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 25,
                                 (width, height))
        for frame in video:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    else:
        write_video(path, video, fps=25)
    assert osp.getsize(path) > 0
    return path
