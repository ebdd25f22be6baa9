# Linear probing on HMDB51 split 1: frozen backbone; the final norm (fc_norm)
# and the BN+Linear head train.
# Paper (AdaptFormer, Table 1): 49.84 top-1 (4 clips x 3 crops).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='peft'),
    cls_head=dict(num_classes=51))
