# ViT-B/16 trained with labels on ImageNet-21k (Google's original weights,
# the backbone VPT uses), as an mmpretrain ImageClassifier with the paper's
# head (see vit-base-p16_mae-in1k.py). Method configs replace the backbone.
#
# Checkpoint (timm's port of Google's JAX weights, 21,843-class head and a
# pre_logits layer, both unused here):
#   https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-vitjx/jx_vit_base_patch16_224_in21k-e5005f0a.pth
# (timm also serves the same weights as `vit_base_patch16_224.orig_in21k`:
# save `timm.create_model(...).state_dict()`), converted to mmpretrain keys
# (nothing here downloads):
#   python tools/convert_image_ckpt.py jx_vit_base_patch16_224_in21k-e5005f0a.pth \
#       checkpoints/vit-base-p16_sup-in21k_mmpretrain.pth
_base_ = ['vit-base-p16_mae-in1k.py']

model = dict(
    backbone=dict(
        init_cfg=dict(
            checkpoint='checkpoints/vit-base-p16_sup-in21k_mmpretrain.pth')),
    # Google's ViTs take inputs scaled to [-1, 1].
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5],
                           std=[127.5, 127.5, 127.5]))
