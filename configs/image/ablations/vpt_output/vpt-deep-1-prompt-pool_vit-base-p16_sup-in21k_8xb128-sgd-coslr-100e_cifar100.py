# Ablation, VPT final output on the image ViT: the mean of the prompt outputs
# after the final norm.
# VPT (Fig. 8, supervised ImageNet-21k ViT-B/16): CLS and image-pool are on a
# par; pooling that includes the prompt outputs loses up to 8 points.
_base_ = ['../../vpt/'
          'vpt-deep-1_vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100.py']

model = dict(backbone=dict(prompt_cfg=dict(output='prompt_pool')))
