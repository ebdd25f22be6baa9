# AdaptFormer-64 on Something-Something v2 with the paper's recipe, under a
# name that is easy to type:
#   bash tools/dist_train.sh configs/adaptformer_ssv2.py 8
# The full experiment (and its comments) is the inherited file.
# Paper (AdaptFormer, Table 1): 59.02 top-1.
_base_ = [
    './adaptformer/'
    'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py'
]
