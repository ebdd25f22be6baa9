# Ablation, bottleneck width: r = 256 in all 12 blocks (4,730,880 adapter
# parameters, 4.73M).
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(bottleneck=256)))
