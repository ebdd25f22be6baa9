# Ablation, adapter output scale: fixed s = 1.0.
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(scale=1.0)))
