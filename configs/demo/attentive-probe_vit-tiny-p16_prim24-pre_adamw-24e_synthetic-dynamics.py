# Attentive probe: one learned query cross-attends to the frozen patch
# tokens in place of their mean; the probe, fc_norm and the head train.
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(backbone=dict(type='AttentiveProbeVideoViT'))
