# Partial-1 (the VPT paper's baseline) on Something-Something v2.
# The last block (7,087,104 parameters), fc_norm and the head train; blocks
# 0-10 stay frozen.
# Paper: no number for this backbone (VPT reports Partial-1 on images only).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='PartialVideoViT', partial_cfg=dict(num_blocks=1)),
    cls_head=dict(num_classes=174))
