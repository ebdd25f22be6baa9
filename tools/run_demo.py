"""The papers' comparison in miniature, on synthetic video, with no download.

1. Pre-train a tiny VideoMAE-architecture backbone on task A (which way does
   an object move) with ``configs/demo/videomae_vit-tiny-...-direction.py``.
2. Transfer it to task B (does a bar grow, shrink or rotate which way) four
   ways: linear probe, VPT, AdaptFormer, full fine-tuning
   (``configs/demo/*_synthetic-dynamics.py``), each loading the pre-trained
   checkpoint as a VideoMAE checkpoint is loaded.
3. Print a table like the AdaptFormer paper's Table 1 and write
   ``results.md``, ``results.json`` and ``comparison.png`` to the work dir.

Every stage is an ordinary ``tools/train.py`` run of an ordinary config, so
each can be rerun alone. Usage::

    python tools/run_demo.py [--work-dir DIR] [--data-root DIR] [--quick]
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

CONFIG_DIR = osp.join(REPO, 'configs', 'demo')
PRETRAIN = ('pretrain (task A)',
            'videomae_vit-tiny-p16_scratch_adamw-30e_synthetic-direction.py')
TRANSFER = [
    ('linear probe',
     'linear-probe_vit-tiny-p16_direction-pre_adamw-30e_synthetic-dynamics.py'),
    ('VPT-deep (4 tokens)',
     'vpt-deep-4_vit-tiny-p16_direction-pre_adamw-30e_synthetic-dynamics.py'),
    ('AdaptFormer (r=8)',
     'adaptformer-8_vit-tiny-p16_direction-pre_adamw-30e_synthetic-dynamics.py'),
    ('full fine-tune',
     'full-finetune_vit-tiny-p16_direction-pre_adamw-30e_synthetic-dynamics.py'),
]
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Lines of a stage's log worth showing: end of each epoch and validation.
PROGRESS = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[(\d+)/\2\].*?loss: ([\d.]+)'
                      r'|Epoch\(val\).*?acc/top1: ([\d.]+)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--work-dir',
        help='new folder for all stages and the report '
        '(default: work_dirs/demo/<timestamp>)')
    parser.add_argument(
        '--data-root',
        default='data/synthetic',
        help='where the synthetic clips are written / reused')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke test: few clips and 2 epochs per stage (numbers are '
        'meaningless)')
    return parser.parse_args(argv)


def stage_options(args) -> List[str]:
    """--cfg-options shared by every stage."""
    opts = [f'randomness.seed={args.seed}']
    for loader in LOADERS:
        opts.append(f'{loader}.dataset.data_root={args.data_root}')
    if args.quick:
        opts += ['train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                 'default_hooks.logger.interval=1']
        for loader in LOADERS:
            opts += [f'{loader}.dataset.num_train=16',
                     f'{loader}.dataset.num_val=8', f'{loader}.batch_size=4',
                     f'{loader}.num_workers=0',
                     f'{loader}.persistent_workers=False']
    return opts


def run_stage(name: str, config: str, work_dir: str,
              options: List[str]) -> Dict:
    """Train one config with tools/train.py; echo its per-epoch progress."""
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
           '--work-dir', work_dir, '--cfg-options'] + options
    print(f'\n== {name}: {osp.relpath(config, REPO)}', flush=True)
    os.makedirs(work_dir, exist_ok=True)
    start = time.perf_counter()
    with open(osp.join(work_dir, 'console.log'), 'w') as console:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            console.write(line)
            m = PROGRESS.search(line)
            if m and m.group(1):
                print(f'   epoch {m.group(1):>3}  train loss {m.group(3)}',
                      flush=True)
            elif m:
                print(f'   val top-1 {float(m.group(4)):.3f}', flush=True)
        proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f'stage {name!r} failed (exit {proc.returncode}); its output is '
            f'in {osp.join(work_dir, "console.log")}')
    return dict(seconds=seconds, **read_scalars(work_dir))


def read_scalars(work_dir: str) -> Dict:
    """Loss curve, final top-1 and last checkpoint of a finished run."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data',
                                         'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    losses, top1 = [], None
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec:
                losses.append((rec['step'], rec['loss']))
            if 'acc/top1' in rec:
                top1 = rec['acc/top1']
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    return dict(top1=top1, losses=losses, checkpoint=checkpoint)


def count_parameters(config: str) -> Dict:
    """Trainable / total parameters of the config's whole recognizer."""
    import adaptformer_mm  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmengine.logging import MMLogger

    from adaptformer_mm.peft import summarize_parameters

    # The backbones log their summary when built; the stage logs have it.
    MMLogger.get_instance('run_demo_count', log_level='WARNING')
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    cfg.model.backbone.pop('init_cfg', None)  # counting needs no weights
    summary = summarize_parameters(MODELS.build(cfg.model))
    return dict(trainable=summary.trainable, total=summary.total,
                percent=summary.percent)


def format_table(rows: List[Dict]) -> str:
    lines = [
        '| Method | Tunable params | Tunable % | Top-1 on task B | '
        'Stage time (s) |', '|---|---:|---:|---:|---:|'
    ]
    for r in rows:
        lines.append(f'| {r["method"]} | {r["trainable"]:,} | '
                     f'{r["percent"]:.2f} | {100 * r["top1"]:.1f} | '
                     f'{r["seconds"]:.0f} |')
    return '\n'.join(lines)


def plot(rows: List[Dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in rows:
        ax1.scatter(r['trainable'], 100 * r['top1'], s=60)
        ax1.annotate(r['method'], (r['trainable'], 100 * r['top1']),
                     textcoords='offset points', xytext=(6, 4), fontsize=9)
        steps, losses = zip(*r['losses']) if r['losses'] else ((), ())
        ax2.plot(steps, losses, label=r['method'])
    ax1.set_xscale('log')
    ax1.set_xlabel('tunable parameters (log)')
    ax1.set_ylabel('top-1 on task B (%)')
    ax1.set_title('accuracy vs tunable parameters')
    ax1.grid(alpha=0.3)
    ax2.set_xlabel('iteration')
    ax2.set_ylabel('training loss')
    ax2.set_title('training curves (task B)')
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    root = args.work_dir or osp.join(
        'work_dirs', 'demo', time.strftime('%Y%m%d_%H%M%S'))
    if osp.isdir(root) and os.listdir(root):
        raise FileExistsError(
            f'{root} is not empty; give a new --work-dir (nothing in an '
            'earlier demo run is overwritten)')
    root = osp.abspath(root)
    options = stage_options(args)
    t0 = time.perf_counter()

    name, config = PRETRAIN
    pre = run_stage(name, osp.join(CONFIG_DIR, config),
                    osp.join(root, 'pretrain_direction'), options)
    print(f'   pre-trained on task A: top-1 {100 * pre["top1"]:.1f}%')

    rows = []
    for name, config in TRANSFER:
        config = osp.join(CONFIG_DIR, config)
        stage_dir = osp.join(root, config.split('_')[0].split('/')[-1])
        result = run_stage(
            name, config, stage_dir, options +
            [f'model.backbone.init_cfg.checkpoint={pre["checkpoint"]}'])
        rows.append(dict(method=name, config=osp.relpath(config, REPO),
                         **count_parameters(config), **result))

    table = format_table(rows)
    report = dict(
        pretrain=dict(config=osp.join('configs', 'demo', PRETRAIN[1]),
                      top1=pre['top1'], seconds=pre['seconds'],
                      checkpoint=pre['checkpoint']),
        transfer=rows, seed=args.seed, quick=args.quick,
        total_seconds=time.perf_counter() - t0)
    with open(osp.join(root, 'results.json'), 'w') as f:
        json.dump(report, f, indent=2)
    with open(osp.join(root, 'results.md'), 'w') as f:
        f.write(f'Backbone pre-trained on task A (direction): top-1 '
                f'{100 * pre["top1"]:.1f}%\n\n{table}\n')
    plot(rows, osp.join(root, 'comparison.png'))
    print(f'\n{table}\n\ntotal {report["total_seconds"]:.0f} s; report: '
          f'{root}/results.md, results.json, comparison.png')
    return report


if __name__ == '__main__':
    main()
