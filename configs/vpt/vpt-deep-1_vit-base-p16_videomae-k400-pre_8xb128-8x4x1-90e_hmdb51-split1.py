# VPT-deep, 1 token per block on HMDB51 split 1: 12 x 1 prompt tokens (9,216
# parameters; Table 1 lists VPT at 0.08M tunable vs 0.07M for linear probing)
# + fc_norm + head.
# Paper (AdaptFormer, Table 1): 52.67 top-1 (4 clips x 3 crops).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='VPTVideoViT', prompt_cfg=dict(num_tokens=1, deep=True)),
    cls_head=dict(num_classes=51))
