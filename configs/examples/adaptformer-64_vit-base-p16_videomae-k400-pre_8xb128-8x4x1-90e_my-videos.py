# Your own videos: a folder of clips and two list files whose lines are
# "relative/path/to/clip.mp4 label" (label = class index from 0), e.g. made by
#   python tools/data/build_lists.py folder data/my_videos/videos \
#       --out-dir data/my_videos --val-fraction 0.2
# from data/my_videos/videos/<class name>/<clip> (it also writes classes.txt).
# Any format decord reads works (mp4, avi, webm, mkv). Only the data paths and
# the class count differ from the inherited AdaptFormer-64 recipe; with fewer
# GPUs or a smaller batch add --auto-scale-lr (the lr follows the batch).
# Use the SSv2 config as the parent instead if your labels depend on left vs
# right (it trains without flipping).
_base_ = ['../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_'
          'hmdb51-split1.py']

data_root = 'data/my_videos/videos'
ann_file_train = 'data/my_videos/train_list_videos.txt'
ann_file_val = 'data/my_videos/val_list_videos.txt'

model = dict(cls_head=dict(num_classes=5))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
