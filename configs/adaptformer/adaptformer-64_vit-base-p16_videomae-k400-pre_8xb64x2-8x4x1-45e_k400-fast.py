# AdaptFormer-64 with the fast data path (_base_/datasets/kinetics400_video_fast.py):
# repeated augmentation K=2, 8 GPUs x 64 videos x 2 = 1024 clips per step,
# 45 epochs = the paper recipe's 90 in iterations and clips seen. The model
# is the paper's (adaptformer-64_..._8xb128-8x4x1-90e_k400.py).
# Paper: no Kinetics-400 number.
_base_ = [
    '../_base_/models/videomae_vit-base-p16_k400-pre_8x4x1.py',
    '../_base_/datasets/kinetics400_video_fast.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_45e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerVideoViT',
        adapter_cfg=dict(bottleneck=64, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=400))
