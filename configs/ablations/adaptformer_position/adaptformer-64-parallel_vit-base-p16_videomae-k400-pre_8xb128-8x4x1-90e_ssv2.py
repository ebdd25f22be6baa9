# Ablation, adapter placement: parallel. Parallel reads the residual stream
# beside the MLP; sequential reads the MLP output. The paper: parallel is
# 0.85 top-1 better on SSv2.
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(adapter_cfg=dict(mode='parallel')))
