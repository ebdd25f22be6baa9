# Ablation, input frames: 8 at stride 4 (tubelet 2: 4 x 14 x 14 tokens).
# The main setting.
# The backbone and every SampleFrames step change; the rest of each pipeline
# is the inherited one.
_base_ = ['../../adaptformer/'
          'adaptformer-64_vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2.py']

num_frames = 8
model = dict(backbone=dict(num_frames=num_frames))
train_dataloader = dict(dataset=dict(pipeline=[
    {**step, 'clip_len': num_frames}
    if step['type'] == 'SampleFrames' else step
    for step in _base_.train_dataloader.dataset.pipeline]))
val_dataloader = dict(dataset=dict(pipeline=[
    {**step, 'clip_len': num_frames}
    if step['type'] == 'SampleFrames' else step
    for step in _base_.val_dataloader.dataset.pipeline]))
test_dataloader = dict(dataset=dict(pipeline=[
    {**step, 'clip_len': num_frames}
    if step['type'] == 'SampleFrames' else step
    for step in _base_.test_dataloader.dataset.pipeline]))
