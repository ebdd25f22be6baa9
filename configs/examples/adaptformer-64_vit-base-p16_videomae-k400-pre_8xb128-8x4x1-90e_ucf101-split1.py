# A new dataset is a short config: UCF101 split 1 (101 classes) with the
# AdaptFormer-64 recipe of HMDB51, another small dataset of flippable actions.
# Only the data paths and the class count change. The videos and list files
# come from mmaction2's UCF101 tools (docs/data_preparation.md, "UCF101"):
# data/ucf101/videos/<Class>/<name>.avi and lines "<Class>/<name>.avi label".
_base_ = ['../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_'
          'hmdb51-split1.py']

data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_val = 'data/ucf101/ucf101_val_split_1_videos.txt'

model = dict(cls_head=dict(num_classes=101))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
