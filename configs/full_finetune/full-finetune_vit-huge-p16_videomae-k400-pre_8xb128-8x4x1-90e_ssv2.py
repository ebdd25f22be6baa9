# Full fine-tuning, ViT-H/16, Something-Something v2: every parameter
# trains, under the same SGD recipe as the PEFT methods.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
_base_ = [
    '../_base_/models/videomae_vit-huge-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='full'),
    cls_head=dict(num_classes=174))
