# VPT-deep on Video Swin-B, Something-Something v2: one prompt token per
# block, of its stage's width, in every window (VPT's Swin design, see
# adaptformer_mm/models/backbones/vpt.py): 12,032 prompt parameters
# (2 x 128 + 2 x 256 + 18 x 512 + 2 x 1024) + head.
# Paper: no number (VPT ran image Swin only; AdaptFormer reports ViT only).
_base_ = [
    '../_base_/models/video-swin-base-p244-w877_in1k-k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='VPTVideoSwin', prompt_cfg=dict(num_tokens=1, deep=True)),
    cls_head=dict(num_classes=174))
