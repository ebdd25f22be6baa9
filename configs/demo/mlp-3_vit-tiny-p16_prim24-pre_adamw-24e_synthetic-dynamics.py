# MLP-3 head (VPT's baseline): the frozen linear-probe backbone (fc_norm
# trains) under a 3-layer MLP head (BatchNorm, then Linear-ReLU x 2, Linear).
# The one demo method that changes the head instead of the backbone.
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(
    backbone=dict(type='TunableVideoViT', tuning='peft'),
    cls_head=dict(type='MLPHead', mlp_cfg=dict(num_layers=3)))
