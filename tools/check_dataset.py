"""Pre-flight check of a config's video lists: every line, every video.

Today a bad video in a validation list is found only when validation reaches
it, after a training epoch. This parses each listed split's annotation file
with the checks of ``CheckedVideoDataset`` (label an integer in range, video
present) and loads every valid sample through the split's own pipeline
(decoding included), in parallel with a progress bar. Each bad line is
reported with file, line and reason; ``--write-clean`` writes the list
without them (never over an existing file). Exit status 1 when a line is bad.

Usage::

    python tools/check_dataset.py CONFIG [--split train val test]
        [--workers N] [--write-clean LIST] [--cfg-options k=v ...]
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

SPLITS = ('train', 'val', 'test')
_DATASET = None  # the split being checked, shared with forked workers


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', nargs='+', default=list(SPLITS),
                        choices=SPLITS, help='splits to check')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes that decode (0: in this process)')
    parser.add_argument(
        '--write-clean', metavar='LIST',
        help='write the good lines of the (single) checked split here')
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.write_clean and len(args.split) != 1:
        parser.error(f'--write-clean needs exactly one --split (got '
                     f'{args.split})')
    if args.write_clean and osp.exists(args.write_clean):
        parser.error(f'--write-clean: {args.write_clean} exists; give a new '
                     'file (nothing is overwritten)')
    if args.workers < 0:
        parser.error(f'--workers: {args.workers}; give 0 or more')
    return args


def build_split(cfg, split: str):
    """The split's dataset, built without reading its list (lazy_init), so
    a bad line cannot stop the check before it starts."""
    from mmaction.registry import DATASETS
    dataset_cfg = cfg[f'{split}_dataloader'].dataset.copy()
    dataset_cfg['lazy_init'] = True
    return DATASETS.build(dataset_cfg)


def available_splits(cfg) -> List[str]:
    return [s for s in SPLITS if cfg.get(f'{s}_dataloader')]


def checker_for(dataset):
    """A lazy ``CheckedVideoDataset`` over the same list: its line checks."""
    from adaptformer_mm.datasets import CheckedVideoDataset
    return CheckedVideoDataset(
        ann_file=dataset.ann_file, data_prefix=dataset.data_prefix,
        pipeline=[], test_mode=dataset.test_mode,
        multi_class=dataset.multi_class, num_classes=dataset.num_classes,
        delimiter=dataset.delimiter, metainfo=dataset.metainfo,
        lazy_init=True)


def _load(index: int) -> Tuple[int, str]:
    """Load one sample through the pipeline; '' or the reason it failed."""
    try:
        _DATASET.prepare_data(index)
        return index, ''
    except Exception as e:  # decoders raise many types
        return index, f'{type(e).__name__}: {" ".join(str(e).split())[:300]}'


def check_split(dataset, split: str, workers: int) -> Dict:
    """Check one split: bad lines of the list, then samples that fail."""
    global _DATASET
    from mmengine.utils import track_parallel_progress, track_progress

    samples, bad, lines = checker_for(dataset).parse_annotations()
    print(f'{split}: {dataset.ann_file}: {len(samples)} valid lines to load',
          flush=True)
    if samples:
        # The dataset loads exactly the lines that passed the checks.
        dataset.load_data_list = lambda: [
            {k: v for k, v in s.items() if k != 'ann_line'} for s in samples]
        dataset.full_init()
        _DATASET = dataset
        indices = list(range(len(samples)))
        if workers > 0:
            results = track_parallel_progress(_load, indices, workers,
                                              chunksize=8)
        else:
            results = track_progress(_load, indices)
        for index, reason in results:
            if reason:
                sample = samples[index]
                bad.append((sample['ann_line'],
                            f'{dataset.ann_file} line {sample["ann_line"]}: '
                            f'{sample["filename"]}: {reason}'))
    bad.sort()
    return dict(split=split, ann_file=dataset.ann_file, lines=lines, bad=bad,
                total=sum(1 for ln in lines if ln.strip()))


def main(argv=None) -> int:
    args = parse_args(argv)
    import adaptformer_mm  # noqa: F401  (stack fixes + registrations)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    splits = [s for s in args.split if cfg.get(f'{s}_dataloader')]
    missing = [s for s in args.split if s not in splits]
    if missing and args.split != list(SPLITS):
        raise KeyError(f'{args.config} has no {missing} dataloader(s); '
                       f'valid: {available_splits(cfg)}')
    checked = set()
    reports = []
    for split in splits:
        dataset = build_split(cfg, split)
        if dataset.ann_file in checked:  # e.g. test_dataloader = val's
            continue
        checked.add(dataset.ann_file)
        reports.append(check_split(dataset, split, args.workers))
    bad_total = 0
    print()
    for r in reports:
        bad_total += len(r['bad'])
        print(f'{r["split"]}: {r["ann_file"]}: {r["total"]} lines, '
              f'{r["total"] - len(r["bad"])} good, {len(r["bad"])} bad')
        for _, message in r['bad']:
            print(f'  {message}')
    if args.write_clean:
        r = reports[0]
        bad_lines = {number for number, _ in r['bad']}
        good = [ln for number, ln in enumerate(r['lines'], start=1)
                if ln.strip() and number not in bad_lines]
        with open(args.write_clean, 'x') as f:  # 'x': never overwrite
            f.write('\n'.join(good) + '\n')
        print(f'wrote {len(good)} good lines of {r["ann_file"]} to '
              f'{args.write_clean}')
    return 1 if bad_total else 0


if __name__ == '__main__':
    sys.exit(main())
