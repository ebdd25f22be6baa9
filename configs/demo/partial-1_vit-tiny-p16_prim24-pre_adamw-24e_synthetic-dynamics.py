# Partial-1 (VPT's baseline): the last of the 4 blocks and fc_norm train;
# blocks 0-2 stay frozen.
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(
    backbone=dict(type='PartialVideoViT', partial_cfg=dict(num_blocks=1)))
