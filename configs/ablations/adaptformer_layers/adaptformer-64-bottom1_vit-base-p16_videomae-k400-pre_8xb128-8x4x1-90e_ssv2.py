# Ablation, adapted blocks: the bottom 1 of 12 (99,136 adapter parameters).
# The paper: more adapted blocks is better, and at equal count the top
# (last) blocks beat the bottom ones.
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(layers=[0])))
