# Ablation, VPT final output: the mean of the patch outputs (the main
# setting), then fc_norm.
# VPT (Fig. 8): pooling that includes the prompt outputs loses accuracy.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(output='image_pool')))
