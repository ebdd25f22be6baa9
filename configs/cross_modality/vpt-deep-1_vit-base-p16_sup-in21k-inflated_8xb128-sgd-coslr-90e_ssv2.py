# VPT-deep with 1 prompt token per block on the IN-21k image ViT inflated to
# video (AdaptFormer reports VPT collapsing at >= 8 tokens on SSv2).
# Paper: method-spec records no number for the cross-modality runs, so none
# is stated here.
_base_ = ['./_base_/vit-base-p16_sup-in21k-inflated_8x4x1_ssv2.py']
model = dict(
    backbone=dict(
        type='VPTVideoViT', prompt_cfg=dict(num_tokens=1, deep=True)))
