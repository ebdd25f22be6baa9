# VPT-deep on Swin-B as VPT runs it (prompts of each stage's width join
# every window; see adaptformer_mm/models/backbones/vpt.py): one prompt
# token per block, 12,032 prompt parameters (2 x 128 + 2 x 256 + 18 x 512 +
# 2 x 1024) + head. VPT tunes the prompt length per task; set
# prompt_cfg.num_tokens (parameters: 12,032 per token).
# SVHN from supervised ImageNet-21k Swin-B.
# Paper: no number; VPT's Swin-B results are on VTAB-1k.
_base_ = [
    '../_base_/models/swin-base-w7_sup-in21k.py',
    '../_base_/datasets/svhn.py',
    '../_base_/schedules/sgd_linear-warmup_cosine_100e.py',
    '../_base_/peft_runtime.py',
]

model = dict(
    backbone=dict(type='VPTSwin', prompt_cfg=dict(num_tokens=1, deep=True)),
    head=dict(num_classes=10),
    data_preprocessor=_base_.data_preprocessor)
