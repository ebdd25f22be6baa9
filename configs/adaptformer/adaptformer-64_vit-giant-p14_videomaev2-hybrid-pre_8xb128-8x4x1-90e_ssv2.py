# AdaptFormer-64, ViT-g/14, Something-Something v2: an AdaptMLP (r=64,
# s=0.1, parallel) in all 40 blocks, 40 x (2 x 1408 x 64 + 64 + 1408) =
# 7,267,840 parameters, + fc_norm + head.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
_base_ = [
    '../_base_/models/videomaev2_vit-giant-p14_hybrid-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerVideoViT',
        adapter_cfg=dict(bottleneck=64, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=174))
