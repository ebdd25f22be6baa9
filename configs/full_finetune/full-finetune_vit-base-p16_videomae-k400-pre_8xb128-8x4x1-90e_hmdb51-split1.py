# Full fine-tuning on HMDB51 split 1: every parameter trains, under the same
# SGD recipe as the PEFT methods.
# Paper (AdaptFormer, Table 1): 46.41 top-1 (4 clips x 3 crops).
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/hmdb51-split1_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(type='TunableVideoViT', tuning='full'),
    cls_head=dict(num_classes=51))
