# Ablation, bottleneck width: r = 8 in all 12 blocks (156,768 adapter
# parameters, 0.16M).
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(bottleneck=8)))
