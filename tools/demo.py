"""Top-k labels for one video (or image) file, optionally written back onto
the video.

    python tools/demo.py VIDEO CONFIG CHECKPOINT [--task-file TASK.pth]
        [--backbone PRETRAINED] [--topk 5] [--label-file classes.txt]
        [--out-video out.mp4] [--force] [--merge-lora] [--device cpu]

CHECKPOINT is a full checkpoint, or a tunable-only one (frozen tensors from
``--backbone`` / the config's pretrained backbone). With ``--task-file``,
CHECKPOINT is the pretrained backbone and the task file holds the rest.
The video (mp4, webm, avi, ... anything decord reads, any size and length)
goes through the config's test pipeline; for an image config (mmpretrain),
VIDEO is an image file. ``--out-video`` (.mp4 or .avi)
writes every frame back with the top labels drawn on it. ``--merge-lora``
folds a LoRA model's updates into its frozen weights before inference.
"""
import os.path as osp
import sys
from typing import List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.apis import (config_classes, inference,  # noqa: E402
                                 init_model, load_config, read_label_file)
from adaptformer_mm.apis.inference import is_image_config  # noqa: E402
from adaptformer_mm.peft import merge_lora  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_backbone_option, add_device_option, add_label_file_option,
    add_force_option, add_merge_lora_option, add_topk_option,
    add_video_argument, refuse_overwrite, require_video, tool_parser)

# Container -> fourcc that OpenCV's bundled FFmpeg writes without extras.
FOURCC = {'.mp4': 'mp4v', '.avi': 'MJPG'}


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    add_video_argument(parser)
    parser.add_argument('config', help='config file of the model')
    parser.add_argument(
        'checkpoint',
        help='checkpoint; with --task-file the pretrained backbone')
    parser.add_argument(
        '--task-file', help='task file (trainable tensors) to put on the '
        'backbone CHECKPOINT')
    add_backbone_option(parser)
    add_topk_option(parser, 'labels to show')
    add_label_file_option(parser)
    parser.add_argument(
        '--out-video',
        help=f'write the video with the labels drawn on it '
        f'({"/".join(FOURCC)})')
    add_force_option(parser, '--out-video')
    add_merge_lora_option(parser)
    add_device_option(parser)
    args = parser.parse_args(argv)
    if args.out_video:
        ext = osp.splitext(args.out_video)[1].lower()
        if ext not in FOURCC:
            parser.error(f'--out-video {args.out_video}: use one of '
                         f'{sorted(FOURCC)}')
        refuse_overwrite(parser, args, 'out_video')
    return args


def draw_labels(video: str, out: str, lines: List[str]) -> int:
    """Write every frame of ``video`` to ``out`` with ``lines`` drawn at the
    top left; returns the number of frames written."""
    import decord
    reader = decord.VideoReader(video)
    fps = reader.get_avg_fps() or 25.0
    height, width = reader[0].shape[:2]
    ext = osp.splitext(out)[1].lower()
    writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*FOURCC[ext]), fps,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {out}')
    # Text scales with the frame so it stays legible from 64 px to 4K.
    scale = max(0.3, height / 720)
    thickness = max(1, int(round(2 * scale)))
    step = int(32 * scale) + 4
    count = 0
    for index in range(len(reader)):
        frame = cv2.cvtColor(reader[index].asnumpy(), cv2.COLOR_RGB2BGR)
        frame = np.ascontiguousarray(frame)
        for i, text in enumerate(lines):
            origin = (8, step * (i + 1))
            # Dark outline under white text: readable on any background.
            cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (0, 0, 0), thickness + 2, cv2.LINE_AA)
            cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), thickness, cv2.LINE_AA)
        writer.write(frame)
        count += 1
    writer.release()
    return count


def main(argv=None):
    args = parse_args(argv)
    require_video(args.video)
    if args.out_video and is_image_config(load_config(args.config)):
        raise ValueError(
            f'--out-video draws the labels on a video, and {args.config} is '
            f'an image config (its input {args.video} is an image)')
    model = init_model(args.config, args.checkpoint, task_file=args.task_file,
                       backbone=args.backbone, device=args.device)
    if args.merge_lora:
        print(f'merged LoRA into {merge_lora(model, require=True)} linear '
              'layers')
    classes = (read_label_file(args.label_file) if args.label_file else
               model.classes or config_classes(model.cfg))
    pred = inference(model, args.video, classes)
    num = pred.scores.numel()
    if classes and len(classes) != num:
        raise ValueError(f'{len(classes)} class names for a model with {num} '
                         'classes; check --label-file')
    top = pred.topk(args.topk)
    print(f'{args.video}: top-{len(top)} of {num} classes')
    for rank, (label, name, score) in enumerate(top, 1):
        print(f'{rank:>3}. {name:<30} {score:.4f}  (label {label})')
    if args.out_video:
        lines = [f'{name}: {score:.2f}' for _, name, score in top[:3]]
        frames = draw_labels(args.video, args.out_video, lines)
        print(f'labelled video: {osp.abspath(args.out_video)} '
              f'({frames} frames)')
    return pred


if __name__ == '__main__':
    main()
