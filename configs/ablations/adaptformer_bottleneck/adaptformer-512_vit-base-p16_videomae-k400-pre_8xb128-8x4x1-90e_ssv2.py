# Ablation, bottleneck width: r = 512 in all 12 blocks (9,452,544 adapter
# parameters, 9.45M).
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(bottleneck=512)))
