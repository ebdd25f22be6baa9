# Linear probing on Kinetics-400: frozen backbone; the final norm (fc_norm)
# and the BN+Linear head train.
# Paper: no Kinetics-400 number (Table 1 reports SSv2 and HMDB51 only;
# the backbone was pre-trained on K400 itself, without labels).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='peft'),
    cls_head=dict(num_classes=400))
