# Ablation, bottleneck width: r = 128 in all 12 blocks (2,370,048 adapter
# parameters, 2.37M).
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(bottleneck=128)))
