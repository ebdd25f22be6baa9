# MLP-3 head (the VPT paper's baseline) on HMDB51 split 1.
# The linear-probe backbone (frozen, fc_norm trains) and a 3-layer MLP head:
# BatchNorm without affine, then Linear-ReLU-Linear-ReLU-Linear, width 768.
# Paper: no number for this backbone (VPT reports MLP-k on images only).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='peft'),
    cls_head=dict(
        type='MLPHead', mlp_cfg=dict(num_layers=3), num_classes=51))
