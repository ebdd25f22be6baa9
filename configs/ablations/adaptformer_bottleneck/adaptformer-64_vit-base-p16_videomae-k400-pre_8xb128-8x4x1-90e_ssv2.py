# Ablation, bottleneck width: r = 64 in all 12 blocks (1,189,632 adapter
# parameters, 1.19M). The main AdaptFormer-64 setting.
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(bottleneck=64)))
