# Bias tuning (BitFit, the VPT paper's "Bias" baseline) on Video Swin-B,
# Something-Something v2.
# Every bias of the backbone and the head train: per block 11 d
# (norm1 d, qkv 3d, proj d, norm2 d, fc1 4d, fc2 d), the patch embedding's
# conv and norm (2 x 128), the patch-merging norms (4 x (128 + 256 + 512))
# and norm3 (1024):
# 11 x (2 x 128 + 2 x 256 + 18 x 512 + 2 x 1024) + 256 + 3,584 + 1,024
# = 137,216 parameters (the relative-position tables stay frozen).
# Paper: no number (VPT ran image Swin only; AdaptFormer reports ViT only).
_base_ = [
    '../_base_/models/video-swin-base-p244-w877_in1k-k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='BitFitVideoSwin', bitfit_cfg=dict(norm_bias=True)),
    cls_head=dict(num_classes=174))
