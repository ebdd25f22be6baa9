# AdaptFormer-64, ViT-L/16, HMDB51 split 1: an AdaptMLP (r=64,
# s=0.1, parallel) in all 24 blocks, 24 x (2 x 1024 x 64 + 64 + 1024) =
# 3,171,840 parameters, + fc_norm + head.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
_base_ = [
    '../_base_/models/videomae_vit-large-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerVideoViT',
        adapter_cfg=dict(bottleneck=64, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=51))
