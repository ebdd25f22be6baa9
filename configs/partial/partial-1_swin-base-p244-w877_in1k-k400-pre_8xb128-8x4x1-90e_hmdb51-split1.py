# Partial-1 (the VPT paper's baseline) on Video Swin-B, HMDB51 split 1.
# The last block (stage 3, d = 1024, 32 heads; norms 4d, qkv 3d^2 + 3d,
# proj d^2 + d, MLP 8d^2 + 5d, a 2,535 x 32 relative-position table:
# 12 d^2 + 13 d + 81,120 = 12,677,344) and the output norm norm3 (2d)
# train: 12,677,344 + 2,048 = 12,679,392 parameters + head; blocks 0-22
# stay frozen.
# Paper: no number (VPT ran image Swin only; AdaptFormer reports ViT only).
_base_ = [
    '../_base_/models/video-swin-base-p244-w877_in1k-k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='PartialVideoSwin', partial_cfg=dict(num_blocks=1)),
    cls_head=dict(num_classes=51))
