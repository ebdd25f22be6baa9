# Linear probing, ViT-S/16, Something-Something v2: frozen backbone; the
# final norm (fc_norm) and the BN+Linear head train.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
_base_ = [
    '../_base_/models/videomae_vit-small-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='peft'),
    cls_head=dict(num_classes=174))
