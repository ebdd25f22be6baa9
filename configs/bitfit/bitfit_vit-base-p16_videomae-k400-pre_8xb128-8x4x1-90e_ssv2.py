# Bias tuning (BitFit, the VPT paper's "Bias" baseline) on
# Something-Something v2.
# Every bias of the backbone (93,696, fc_norm's included), the fc_norm
# weight and the head train.
# Paper: no number for this backbone (VPT reports bias tuning on images).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='BitFitVideoViT', bitfit_cfg=dict(norm_bias=True)),
    cls_head=dict(num_classes=174))
