"""Pre-flight check of a config's video lists: every line, every video.

Today a bad video in a validation list is found only when validation reaches
it, after a training epoch. This parses each listed split's annotation file
with the checks of ``CheckedVideoDataset`` (label an integer in range, video
present) and loads every valid sample through the split's own pipeline
(decoding included), in parallel with a progress bar. Each bad line is
reported with file, line and reason; ``--write-clean`` writes the list
without them (an existing file only with ``--force``). Exit status 1 when a
line is bad.

A wrapped dataset (``ClassBalancedSubset``, ``RepeatedAugDataset``, ...) is
checked at the dataset inside every wrapper: its whole list (a subset is
drawn from all of it) through its whole configured pipeline, decode and
augmentation; the report names the wrappers it went through.

Usage::

    python tools/check_dataset.py CONFIG [--split train val test]
        [--workers N] [--write-clean LIST [--force]] [--cfg-options k=v ...]
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from adaptformer_mm.cli import (  # noqa: E402
    add_cfg_options, add_force_option, refuse_overwrite)

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
    add_force_option(parser, '--write-clean')
    add_cfg_options(parser, 'override config settings, e.g. '
                    'train_dataloader.dataset.ann_file=LIST')
    args = parser.parse_args(argv)
    if args.write_clean and len(args.split) != 1:
        parser.error(f'--write-clean needs exactly one --split (got '
                     f'{args.split})')
    refuse_overwrite(parser, args, 'write_clean')
    if args.workers < 0:
        parser.error(f'--workers: {args.workers}; give 0 or more')
    return args


def build_split(cfg, split: str):
    """The dataset inside every wrapper of the split, built without reading
    its list (lazy_init), so a bad line cannot stop the check before it
    starts; and the wrappers (:class:`DatasetLevel`, outermost first)."""
    from mmaction.registry import DATASETS

    from adaptformer_mm.datasets.pipeline import unwrap_dataset_cfg
    key = f'{split}_dataloader.dataset'
    inner, chain = unwrap_dataset_cfg(
        copy.deepcopy(cfg[f'{split}_dataloader'].dataset), key)
    key = chain[-1].inner_key if chain else key
    if inner.get('on_bad_sample') == 'skip':
        # A sample that fails must be reported, not replaced by the next.
        inner['on_bad_sample'] = 'error'
    inner['lazy_init'] = True
    dataset = DATASETS.build(inner)
    if not getattr(dataset, 'ann_file', None):
        raise ValueError(
            f'{cfg.filename}: {key} ({inner.get("type")}) reads no '
            'annotation list (ann_file); check_dataset checks datasets of '
            '"path label" lists (VideoDataset, CheckedVideoDataset, ...)')
    return dataset, chain


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
    """Load one sample through the pipeline; '' or the reason it failed
    (the decoder's error: the report names the file and line itself)."""
    from adaptformer_mm.datasets.robust import BadSampleError
    try:
        _DATASET.prepare_data(index)
        return index, ''
    except Exception as e:  # decoders raise many types
        if isinstance(e, BadSampleError) and e.__cause__ is not None:
            e = e.__cause__  # CheckedVideoDataset's wrapper of the error
        return index, f'{type(e).__name__}: {" ".join(str(e).split())[:300]}'


def via(chain: Sequence) -> str:
    """' (inside W1 at KEY > W2 at KEY)': the wrappers a check went
    through, outermost first; '' for none."""
    return f' (inside {" > ".join(map(str, chain))})' if chain else ''


def check_split(dataset, split: str, workers: int,
                chain: Sequence = ()) -> Dict:
    """Check one split: bad lines of the list, then samples that fail."""
    global _DATASET
    from mmengine.utils import track_parallel_progress, track_progress

    samples, bad, lines = checker_for(dataset).parse_annotations()
    print(f'{split}: {dataset.ann_file}{via(chain)}: {len(samples)} valid '
          'lines to load', flush=True)
    if samples:
        # The dataset loads exactly the lines that passed the checks (each
        # with its ann_line, which a CheckedVideoDataset's errors name), as
        # copies: full_init clears the list it serializes.
        dataset.load_data_list = lambda: [dict(s) for s in samples]
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
                total=sum(1 for ln in lines if ln.strip()), via=via(chain))


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
        dataset, chain = build_split(cfg, split)
        if dataset.ann_file in checked:  # e.g. test_dataloader = val's
            continue
        checked.add(dataset.ann_file)
        reports.append(check_split(dataset, split, args.workers, chain))
    bad_total = 0
    print()
    for r in reports:
        bad_total += len(r['bad'])
        print(f'{r["split"]}: {r["ann_file"]}{r["via"]}: {r["total"]} lines, '
              f'{r["total"] - len(r["bad"])} good, {len(r["bad"])} bad')
        for _, message in r['bad']:
            print(f'  {message}')
    if args.write_clean:
        r = reports[0]
        bad_lines = {number for number, _ in r['bad']}
        good = [ln for number, ln in enumerate(r['lines'], start=1)
                if ln.strip() and number not in bad_lines]
        with open(args.write_clean, 'w') as f:
            f.write('\n'.join(good) + '\n')
        print(f'wrote {len(good)} good lines of {r["ann_file"]} to '
              f'{args.write_clean}')
    return 1 if bad_total else 0


if __name__ == '__main__':
    sys.exit(main())
