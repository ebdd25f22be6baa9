# Ablation, VPT prompt location: added element-wise to the 784 patch
# tokens before every block (one prompt per token; the sequence length is
# unchanged).
# 7,225,344 prompt parameters. VPT (Fig. 5): prepend beats add and pixel space.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

model = dict(backbone=dict(prompt_cfg=dict(location='add', num_tokens=None)))
