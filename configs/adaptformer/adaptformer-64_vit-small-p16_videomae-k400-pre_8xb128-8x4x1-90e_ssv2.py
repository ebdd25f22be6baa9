# AdaptFormer-64, ViT-S/16, Something-Something v2: an AdaptMLP (r=64,
# s=0.1, parallel) in all 12 blocks, 12 x (2 x 384 x 64 + 64 + 384) =
# 595,200 parameters, + fc_norm + head.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
_base_ = [
    '../_base_/models/videomae_vit-small-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerVideoViT',
        adapter_cfg=dict(bottleneck=64, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=174))
