# Full fine-tuning: every backbone parameter trains.
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(backbone=dict(type='TunableVideoViT', tuning='full'))
