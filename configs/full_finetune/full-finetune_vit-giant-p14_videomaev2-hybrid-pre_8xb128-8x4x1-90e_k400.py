# Full fine-tuning, ViT-g/14, Kinetics-400: every parameter
# trains, under the same SGD recipe as the PEFT methods.
# Paper: no number at this width (AdaptFormer's Table 1 is ViT-B/16).
# Upstream (VideoMAE V2 MODEL_ZOO.md, its own 16-frame AdamW recipe, not
# this one): 87.2 (16x5x3 views) top-1.
_base_ = [
    '../_base_/models/videomaev2_vit-giant-p14_hybrid-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='full'),
    cls_head=dict(num_classes=400))
