# Bias tuning (BitFit): every bias of the backbone and fc_norm train.
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(backbone=dict(type='BitFitVideoViT'))
