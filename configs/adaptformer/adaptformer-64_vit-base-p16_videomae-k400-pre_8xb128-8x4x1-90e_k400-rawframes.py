# AdaptFormer-64 on Kinetics-400 read from extracted JPEG frames instead of
# videos: only the dataset base differs from the video config (any method
# switches the same way).
# Paper: no Kinetics-400 number in Table 1.
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_rawframes.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerVideoViT',
        adapter_cfg=dict(bottleneck=64, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=400))
