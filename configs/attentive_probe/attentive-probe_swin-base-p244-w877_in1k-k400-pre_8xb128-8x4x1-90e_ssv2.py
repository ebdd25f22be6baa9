# Attentive probe on Video Swin-B, Something-Something v2.
# One learned query cross-attends to the last stage's tokens after the
# frozen norm3 (d = 1024, the stage's 32 heads): query d + LayerNorm 2d +
# key/value 2d^2 + 2d + output projection d^2 + d = 3 d^2 + 6 d
# = 3,151,872 parameters + head. The feature is a (B, 1024, 1, 1, 1) map,
# which I3DHead's average pooling passes through.
# Paper: no number (not in the AdaptFormer / VPT tables).
_base_ = [
    '../_base_/models/video-swin-base-p244-w877_in1k-k400-pre_8x4x1.py',
    '../_base_/datasets/ssv2_video.py',
    '../_base_/schedules/sgd-bf16_linear-warmup_cosine_90e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='AttentiveProbeVideoSwin'),
    cls_head=dict(num_classes=174))
