# Data scale: AdaptFormer-64 on all of the SSv2 training list (168,913
# clips, in the list's order) through the same wrapper as the smaller scales,
# so the run records its scale like they do; otherwise the full-data config.
# The other SSv2 scales beside it inherit this file.
# Full data (AdaptFormer, Table 1): 59.02 top-1.
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_'
          'ssv2.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedSubset',
        fraction=1.0,
        seed=0,
        fold=0,
        dataset=_base_.train_dataloader.dataset))
