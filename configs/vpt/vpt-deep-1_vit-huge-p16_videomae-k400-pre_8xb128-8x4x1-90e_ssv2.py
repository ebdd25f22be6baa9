# VPT-deep, 1 token per block, ViT-H/16, Something-Something v2:
# 32 x 1 x 1280 = 40,960 prompt parameters, + fc_norm + head.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
_base_ = [
    '../_base_/models/videomae_vit-huge-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='VPTVideoViT', prompt_cfg=dict(num_tokens=1, deep=True)),
    cls_head=dict(num_classes=174))
