# AdaptFormer-64 (parallel AdaptMLP r=64, s=0.1, dropout 0.0 for video) on
# the IN-21k image ViT inflated to video; adapters, fc_norm and head train.
# Paper: method-spec records no number for the cross-modality runs, so none
# is stated here.
_base_ = ['./_base_/vit-base-p16_sup-in21k-inflated_8x4x1_ssv2.py']
model = dict(
    backbone=dict(type='AdaptFormerVideoViT', adapter_cfg=dict(bottleneck=64)))
