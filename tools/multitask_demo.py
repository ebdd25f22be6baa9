"""Answer several tasks for one video from one frozen backbone.

    python tools/multitask_demo.py VIDEO BACKBONE [NAME=]TASK.pth ...
        [--task NAME ...] [--topk 5] [--device cpu]

For image tasks (mmpretrain configs, ``configs/image/``) VIDEO is an image
file.

BACKBONE (the pretrained file the tasks were trained on) is read once; each
task file brings its adapters / prompts, head, config and class names
(``tools/export_peft.py`` or ``TunableCheckpointHook`` write them). A task is
named NAME, or after its file. ``--task`` limits the answer to some tasks.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.apis import MultiTaskRecognizer  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_device_option, add_topk_option, add_video_argument, require_video,
    tool_parser)


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    add_video_argument(parser)
    parser.add_argument('backbone', help='pretrained backbone checkpoint')
    parser.add_argument(
        'task_files', nargs='+', metavar='[NAME=]TASK_FILE',
        help='task files, optionally named (name defaults to the file stem)')
    parser.add_argument(
        '--task', nargs='+', help='answer only these tasks (default: all)')
    add_topk_option(parser, 'labels per task')
    add_device_option(parser)
    args = parser.parse_args(argv)
    tasks = {}
    for item in args.task_files:
        name, sep, path = item.partition('=')
        if not sep:
            name, path = osp.splitext(osp.basename(item))[0], item
        if name in tasks:
            parser.error(f'two task files are named {name!r}; name them '
                         'NAME=FILE')
        tasks[name] = path
    args.tasks = tasks
    unknown = sorted(set(args.task or ()) - set(tasks))
    if unknown:
        parser.error(f'--task {unknown}: not among the task files '
                     f'{sorted(tasks)}')
    return args


def main(argv=None):
    args = parse_args(argv)
    require_video(args.video)
    recognizer = MultiTaskRecognizer(args.backbone, device=args.device)
    for name, path in args.tasks.items():
        recognizer.add_task(name, path)
    wanted = args.task or recognizer.tasks
    predictions = {name: pred
                   for name, pred in recognizer.predict_all(args.video).items()
                   if name in wanted}
    for name, pred in predictions.items():
        print(f'[{name}] ' + ', '.join(
            f'{label_name} {score:.4f}'
            for _, label_name, score in pred.topk(args.topk)))
    return predictions


if __name__ == '__main__':
    main()
