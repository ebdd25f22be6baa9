# Attentive probe on HMDB51 split 1.
# One learned query cross-attends to the frozen patch tokens (the backbone's
# 12 heads; 1,774,080 parameters) in place of their mean; fc_norm and the
# head train.
# Paper: no number (not in the AdaptFormer / VPT tables).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='AttentiveProbeVideoViT'),
    cls_head=dict(num_classes=51))
