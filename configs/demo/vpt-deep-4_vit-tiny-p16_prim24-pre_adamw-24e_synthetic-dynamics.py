# VPT-deep: 4 prompt tokens before every block; backbone frozen.
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(
    backbone=dict(type='VPTVideoViT', prompt_cfg=dict(num_tokens=4, deep=True)))
