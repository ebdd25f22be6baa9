"""Write the task file (trainable tensors + metadata) of a training checkpoint.

    python tools/export_peft.py CHECKPOINT OUT.pth [--config CONFIG]
        [--backbone PRETRAINED] [--label-file classes.txt] [--force]

CHECKPOINT is any checkpoint a training run wrote: a full mmengine one, or a
tunable-only one (``TunableCheckpointHook``; its frozen tensors then come from
``--backbone`` or the config's pretrained backbone). The model is rebuilt from
the config stored in the checkpoint (``meta.cfg``) unless ``--config`` is
given. OUT holds only tensors and plain metadata (method, config text,
backbone checksum, class names) and loads with
``torch.load(weights_only=True)``; see ``adaptformer_mm/peft/task_file.py``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.apis import (build_model, config_classes,  # noqa: E402
                                 load_config, load_weights, read_label_file)
from adaptformer_mm.engine.checkpoint_io import (  # noqa: E402
    safe_torch_load)
from adaptformer_mm.peft.task_file import write_task_file  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_backbone_option, add_force_option, add_label_file_option,
    refuse_overwrite, tool_parser)


def parse_args(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument('checkpoint', help='training checkpoint (.pth)')
    parser.add_argument('out', help='task file to write (.pth)')
    parser.add_argument(
        '--config',
        help='config of the model (default: the one stored in the '
        'checkpoint, meta.cfg)')
    add_backbone_option(parser)
    add_label_file_option(parser)
    add_force_option(parser, 'OUT')
    args = parser.parse_args(argv)
    refuse_overwrite(parser, args, 'out')
    return args


def main(argv=None):
    args = parse_args(argv)
    if osp.abspath(args.out) == osp.abspath(args.checkpoint):
        raise ValueError(f'OUT {args.out} is the input checkpoint; choose '
                         'another file name')
    ckpt = safe_torch_load(args.checkpoint, map_location='cpu')
    meta = ckpt.get('meta') or {}
    if args.config:
        cfg = load_config(args.config)
        config_text = cfg.pretty_text
    elif meta.get('cfg'):
        config_text = meta['cfg']
        cfg = load_config(config_text)
    else:
        raise ValueError(f'{args.checkpoint} stores no config (meta.cfg); '
                         'pass --config CONFIG')
    model = build_model(cfg)
    classes = load_weights(model, args.checkpoint, backbone=args.backbone,
                           loaded=ckpt)
    if args.label_file:
        classes = read_label_file(args.label_file)
    classes = classes or config_classes(cfg)
    extra = dict(source=osp.basename(args.checkpoint))
    for key in ('epoch', 'iter'):
        if isinstance(meta.get(key), int):
            extra[key] = meta[key]
    task = write_task_file(args.out, model, overwrite=args.force,
                           config=config_text, classes=classes,
                           dataset_meta=meta.get('dataset_meta'),
                           extra_meta=extra)
    summary = task.meta
    print(f'task file:  {osp.abspath(args.out)} '
          f'({osp.getsize(args.out) / 2**20:.2f} MiB)\n'
          f'method:     {summary["method"]}\n'
          f'tunable:    {summary["tunable_params"]:,} of '
          f'{summary["total_params"]:,} parameters\n'
          f'classes:    {len(classes) or "none stored (use --label-file)"}\n'
          f'backbone:   {summary["backbone_checksum"]}')
    return task


if __name__ == '__main__':
    main()
