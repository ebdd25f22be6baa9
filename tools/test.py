"""Evaluate a checkpoint with mmengine's Runner (mmaction2's command line).

``--merge-lora`` folds a LoRA model's updates into its frozen weights before
the test (``MergeLoRAHook``): the stock modules at the stock cost.

CHECKPOINT may also hold only the trainable tensors (a task file from
``tools/export_peft.py``, or a checkpoint written with
``TunableCheckpointHook``): the frozen ones then come from ``--backbone``, or
from the config's ``model.backbone.init_cfg`` Pretrained file, and must be the
backbone the task was trained on (checked by checksum).

The checkpoint loads under the config's choices (``strict_loading``: see
``adaptformer_mm/engine/choices.py``).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
from adaptformer_mm.engine import (  # noqa: E402
    runtime_choices, setup_cpu_distributed)
from adaptformer_mm.peft import pretrained_backbone_file  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_backbone_option, add_force_option, add_merge_lora_option,
    add_runner_options, parse_runner_args, refuse_overwrite, runner_parser,
    set_work_dir)
from mmengine.config import Config  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


def parse_args(argv=None):
    parser = runner_parser('Test (and eval) a model',
                           'the dir to save the evaluation metrics')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_backbone_option(parser)
    add_merge_lora_option(parser)
    parser.add_argument(
        '--dump',
        type=str,
        help='dump predictions to this .pkl file for offline evaluation')
    add_force_option(parser, '--dump')
    parser.add_argument(
        '--show-dir', help='directory where visualizations are saved')
    parser.add_argument(
        '--show', action='store_true', help='display predictions in a window')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualize every N samples')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='display time (seconds)')
    add_runner_options(
        parser,
        'override config settings, e.g. test_dataloader.batch_size=4')
    args = parse_runner_args(parser, argv)
    refuse_overwrite(parser, args, 'dump')
    return args


def merge_args(cfg, args):
    if args.show or args.show_dir is not None:
        if 'visualization' not in cfg.default_hooks:
            raise KeyError(
                '--show/--show-dir need default_hooks.visualization = '
                "dict(type='VisualizationHook') in the config")
        vis = cfg.default_hooks.visualization
        vis.enable = True
        vis.show = args.show
        vis.wait_time = args.wait_time
        vis.out_dir = args.show_dir
        vis.interval = args.interval

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump {args.dump}: use a .pkl file name')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = list(cfg.test_evaluator) + [dump_metric]
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump_metric]

    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    set_work_dir(cfg, args.work_dir, args.config)
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    add_tunable_loading(cfg, args.backbone)
    if args.merge_lora:
        cfg.custom_hooks = list(cfg.custom_hooks) + [
            dict(type='MergeLoRAHook')]
    return cfg


def add_tunable_loading(cfg, backbone) -> None:
    """Let the Runner complete a tunable-only checkpoint with the frozen
    backbone (``TunableCheckpointHook`` leaves full checkpoints alone)."""
    if backbone is not None and not osp.isfile(backbone):
        raise FileNotFoundError(f'--backbone not found: {backbone}')
    backbone = backbone or pretrained_backbone_file(cfg)
    hooks = list(cfg.get('custom_hooks') or [])
    for hook in hooks:
        if hook.get('type') == 'TunableCheckpointHook':
            if backbone:
                hook['backbone_checkpoint'] = backbone
            break
    else:
        hooks.append(dict(type='TunableCheckpointHook', save_full=True,
                          task_file=None, backbone_checkpoint=backbone))
    cfg.custom_hooks = hooks


def main(argv=None):
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_cpu_distributed(cfg, args.launcher)
    with runtime_choices(cfg):  # strict_loading for load_from
        if 'runner_type' not in cfg:
            runner = Runner.from_cfg(cfg)
        else:
            runner = RUNNERS.build(cfg)
        return runner.test()


if __name__ == '__main__':
    main()
