# Full fine-tuning of the IN-21k image ViT inflated to video (the learnable
# tiled position table trains too).
# Paper: method-spec records no number for the cross-modality runs, so none
# is stated here.
_base_ = ['./_base_/vit-base-p16_sup-in21k-inflated_8x4x1_ssv2.py']
model = dict(backbone=dict(type='TunableVideoViT', tuning='full'))
# Every tensor trains: full checkpoints, not the base's tunable-only ones.
custom_hooks = [h for h in _base_.custom_hooks
                if h.type != 'TunableCheckpointHook']
