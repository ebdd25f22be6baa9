# AdaptFormer on Video Swin-B, Something-Something v2: an AdaptMLP (s=0.1,
# parallel) beside the MLP of all 24 blocks, bottleneck width // 12 per stage
# (10/21/42/85 for widths 128/256/512/1024, the authors' advice for Swin in
# AdaptFormer issue #4): 1,161,948 adapter parameters + head.
# Paper: no number (AdaptFormer reports ViT only).
_base_ = [
    '../_base_/models/video-swin-base-p244-w877_in1k-k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(
        type='AdaptFormerVideoSwin',
        adapter_cfg=dict(bottleneck=None, scale=0.1, mode='parallel')),
    cls_head=dict(num_classes=174))
