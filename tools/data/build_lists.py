"""Turn official annotation files into mmaction2 list files.

    python tools/data/build_lists.py ssv2 ANN_DIR [options]
    python tools/data/build_lists.py hmdb51 SPLIT_DIR [--split 1] [options]
    python tools/data/build_lists.py kinetics400 ANN_DIR [--level 2] [options]
    python tools/data/build_lists.py folder VIDEO_DIR [--val-fraction 0.2]

Lines are ``path label`` for videos (``VideoDataset``) and
``frame_dir total_frames label`` for extracted frames (``RawframeDataset``,
``--format rawframes``); labels count from 0. File names follow mmaction2's
``tools/data/build_file_list.py`` (``sthv2_train_list_videos.txt``,
``hmdb51_val_split_1_rawframes.txt``, ...), so the dataset configs find them.

Unlike mmaction2's tool this reads the annotation files from any folder, runs
from any directory, and needs the videos only where they matter: with
``--data-root`` every listed video (or frame folder) is checked and the
missing ones are left out and counted (Kinetics videos keep disappearing from
YouTube); ``--format rawframes`` needs ``--data-root`` to count the frames.
See docs/data_preparation.md.
"""
import argparse
import csv
import json
import os
import os.path as osp
import random
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# (relative video path, label); the path keeps its extension.
Entry = Tuple[str, int]
VIDEO_EXTS = ('.mp4', '.avi', '.webm', '.mkv', '.mov', '.m4v', '.flv')


class AnnotationError(ValueError):
    """An annotation file is missing or does not have the expected form."""


# --------------------------------------------------------------- datasets
def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def _ssv2_file(ann_dir: str, name: str) -> str:
    """``something-something-v2-{name}.json``, or ``{name}.json`` as some
    mirrors ship them."""
    for fname in (f'something-something-v2-{name}.json', f'{name}.json'):
        if osp.isfile(osp.join(ann_dir, fname)):
            return osp.join(ann_dir, fname)
    raise AnnotationError(
        f'neither something-something-v2-{name}.json nor {name}.json in '
        f'{ann_dir}')


def ssv2_entries(ann_dir: str, ext: str = '.webm'
                 ) -> Dict[str, List[Entry]]:
    """Something-Something v2 from ``something-something-v2-{labels,train,
    validation}.json``.

    ``labels.json`` maps a template (``"Putting something on a surface"``) to
    its class index as a string; the train/validation items carry ``id`` and
    ``template`` with brackets (``"Putting [something] on a surface"``). The
    video of item ``id`` is ``{id}.webm``.
    """
    labels = _read_json(_ssv2_file(ann_dir, 'labels'))
    labels = {name: int(index) for name, index in labels.items()}
    splits = {}
    for split, name in (('train', 'train'), ('val', 'validation')):
        path = _ssv2_file(ann_dir, name)
        entries = []
        for item in _read_json(path):
            template = item['template'].replace('[', '').replace(']', '')
            if template not in labels:
                raise AnnotationError(
                    f'{path}: item {item["id"]} has template {template!r}, '
                    f'which is not in the labels file')
            entries.append((f'{item["id"]}{ext}', labels[template]))
        splits[split] = entries
    return splits


def hmdb51_entries(split_dir: str, split: int = 1
                   ) -> Dict[str, List[Entry]]:
    """HMDB51 from the official ``<class>_test_split<N>.txt`` files.

    Each line is ``<video>.avi <flag>``: 1 = train, 2 = test, 0 = unused in
    this split. Classes are numbered in sorted order of the class names
    (``climb`` 5, ``climb_stairs`` 6), as in mmaction2's
    ``tools/data/hmdb51/label_map.txt``; videos live in
    ``<class>/<video>.avi``.
    """
    suffix = f'_test_split{split}.txt'
    # Sort the class names, not the file names: 'climb_stairs_test_split1.txt'
    # sorts before 'climb_test_split1.txt', but 'climb' before 'climb_stairs'.
    classes = sorted(f[:-len(suffix)] for f in os.listdir(split_dir)
                     if f.endswith(suffix))
    if not classes:
        raise AnnotationError(
            f'no *{suffix} files in {split_dir} (HMDB51 split files, e.g. '
            f'brush_hair{suffix}); --split must be 1, 2 or 3')
    splits = {'train': [], 'val': []}
    for label, cls in enumerate(classes):
        path = osp.join(split_dir, cls + suffix)
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2 or parts[1] not in '012':
                    raise AnnotationError(
                        f'{path}:{lineno}: expected "<video>.avi 0|1|2", got '
                        f'{line.strip()!r}')
                if parts[1] == '1':
                    splits['train'].append((f'{cls}/{parts[0]}', label))
                elif parts[1] == '2':
                    splits['val'].append((f'{cls}/{parts[0]}', label))
    return splits


KINETICS_CSVS = {
    'train': ('train.csv', 'kinetics_train.csv', 'kinetics400_train.csv'),
    'val': ('validate.csv', 'val.csv', 'kinetics_val.csv',
            'kinetics400_val.csv'),
}


def _kinetics_class(label: str) -> str:
    """``passing American football (in game)`` ->
    ``passing_American_football_(in_game)``, mmaction2's ``convert_label``."""
    return label.replace('"', '').replace(' ', '_')


def kinetics_entries(ann_dir: str, level: int = 2, ext: str = '.mp4'
                     ) -> Dict[str, List[Entry]]:
    """Kinetics-400 from the official ``train.csv`` / ``validate.csv``.

    Columns ``label,youtube_id,time_start,time_end,split[,is_cc]``. A clip is
    ``{youtube_id}_{start:06d}_{end:06d}.mp4`` (the downloader's naming), in
    a class folder ``label_with_underscores/`` when ``level=2``. As in
    mmaction2's ``parse_kinetics_splits``, a class is its label without
    double quotes and with spaces as underscores (the folder name), and
    classes are numbered in sorted order of those names over the training
    csv (for Kinetics-400 the order of mmaction2's ``label_map_k400.txt``).
    """
    if level not in (1, 2):
        raise ValueError(f'--level must be 1 or 2, got {level}')
    rows = {}
    for split, names in KINETICS_CSVS.items():
        found = [osp.join(ann_dir, n) for n in names
                 if osp.isfile(osp.join(ann_dir, n))]
        if not found:
            raise AnnotationError(
                f'no {split} csv in {ann_dir}; expected one of {list(names)}')
        with open(found[0], newline='') as f:
            reader = csv.DictReader(f)
            need = {'label', 'youtube_id', 'time_start', 'time_end'}
            if not need <= set(reader.fieldnames or ()):
                raise AnnotationError(
                    f'{found[0]}: header {reader.fieldnames} lacks '
                    f'{sorted(need - set(reader.fieldnames or ()))}')
            rows[split] = [(found[0], r) for r in reader]
    classes = sorted({_kinetics_class(r['label']) for _, r in rows['train']})
    index = {name: i for i, name in enumerate(classes)}
    splits = {}
    for split, items in rows.items():
        entries = []
        for path, r in items:
            cls = _kinetics_class(r['label'])
            if cls not in index:
                raise AnnotationError(
                    f'{path}: class {r["label"]!r} of {r["youtube_id"]} does '
                    f'not occur in the training csv')
            name = (f'{r["youtube_id"]}_{int(float(r["time_start"])):06d}_'
                    f'{int(float(r["time_end"])):06d}{ext}')
            if level == 2:
                name = f'{cls}/{name}'
            entries.append((name, index[cls]))
        splits[split] = entries
    return splits


def folder_entries(video_dir: str, val_fraction: float = 0.2, seed: int = 0
                   ) -> Tuple[Dict[str, List[Entry]], List[str]]:
    """Your own videos in ``video_dir/<class name>/<clip>``.

    Classes are the sub-folders in sorted order. Each class is split into
    train / val at random (fixed ``seed``) with ``val_fraction`` of its clips,
    at least one when the class has two or more. Returns the splits and the
    class names.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(
            f'--val-fraction must be in [0, 1), got {val_fraction}')
    classes = sorted(d for d in os.listdir(video_dir)
                     if osp.isdir(osp.join(video_dir, d)))
    if not classes:
        raise AnnotationError(
            f'{video_dir} has no class sub-folders; expected '
            f'{video_dir}/<class name>/<clip>.mp4')
    rng = random.Random(seed)
    splits = {'train': [], 'val': []}
    for label, cls in enumerate(classes):
        clips = sorted(
            f for f in os.listdir(osp.join(video_dir, cls))
            if osp.splitext(f)[1].lower() in VIDEO_EXTS)
        rng.shuffle(clips)
        num_val = round(len(clips) * val_fraction)
        if val_fraction > 0 and len(clips) >= 2:
            num_val = min(max(num_val, 1), len(clips) - 1)
        for clip in sorted(clips[:num_val]):
            splits['val'].append((f'{cls}/{clip}', label))
        for clip in sorted(clips[num_val:]):
            splits['train'].append((f'{cls}/{clip}', label))
    return splits, classes


# ---------------------------------------------------------------- writing
def count_frames(frame_dir: str, prefix: str = 'img_') -> int:
    """Number of extracted frames (``img_00001.jpg``, ...) in a folder."""
    if not osp.isdir(frame_dir):
        return 0
    return sum(1 for f in os.listdir(frame_dir) if f.startswith(prefix))


def to_lines(entries: Iterable[Entry], fmt: str,
             data_root: Optional[str] = None,
             frame_prefix: str = 'img_') -> Tuple[List[str], List[str]]:
    """List-file lines for ``entries`` and the paths left out as missing.

    ``fmt='videos'``: ``path label``; with ``data_root`` only videos that
    exist are listed. ``fmt='rawframes'``: ``frame_dir total_frames label``
    where ``frame_dir`` is the path without extension; ``data_root`` (the
    rawframes folder) is required and folders without frames are left out.
    """
    lines, missing = [], []
    for path, label in entries:
        if fmt == 'videos':
            if data_root is not None and not osp.isfile(
                    osp.join(data_root, path)):
                missing.append(path)
                continue
            lines.append(f'{path} {label}')
        elif fmt == 'rawframes':
            if data_root is None:
                raise ValueError('--format rawframes needs --data-root (the '
                                 'rawframes folder) to count the frames')
            frame_dir = osp.splitext(path)[0]
            total = count_frames(osp.join(data_root, frame_dir), frame_prefix)
            if total == 0:
                missing.append(frame_dir)
                continue
            lines.append(f'{frame_dir} {total} {label}')
        else:
            raise ValueError(
                f"--format must be 'videos' or 'rawframes', got {fmt!r}")
    return lines, missing


def write_lists(splits: Dict[str, List[Entry]], names: Dict[str, str],
                out_dir: str, fmt: str,
                data_roots: Dict[str, Optional[str]],
                frame_prefix: str = 'img_', out=None) -> Dict[str, str]:
    """Write one list per split (``data_roots[split]`` as in
    :func:`to_lines`); return ``{split: path}``."""
    out = out or sys.stdout
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    for split, entries in splits.items():
        data_root = data_roots.get(split)
        lines, missing = to_lines(entries, fmt, data_root, frame_prefix)
        path = osp.join(out_dir, names[split])
        with open(path, 'w') as f:
            f.writelines(line + '\n' for line in lines)
        written[split] = path
        note = ''
        if missing:
            note = (f' ({len(missing)} of {len(entries)} not found under '
                    f'{data_root} and left out, e.g. {missing[0]})')
        print(f'{path}: {len(lines)} {fmt}{note}', file=out)
    return written


# -------------------------------------------------------------------- CLI
DEFAULT_OUT = {'ssv2': 'data/sthv2', 'hmdb51': 'data/hmdb51',
               'kinetics400': 'data/kinetics400', 'folder': None}


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument(
        'dataset', choices=['ssv2', 'hmdb51', 'kinetics400', 'folder'])
    parser.add_argument(
        'ann_dir',
        help='folder of the official annotation files (ssv2: the json '
        'files; hmdb51: the *_test_split<N>.txt files; kinetics400: '
        'train.csv and validate.csv); for "folder": the video folder')
    parser.add_argument(
        '--out-dir',
        help='where the lists go (default: data/sthv2, data/hmdb51, '
        'data/kinetics400; for "folder": the parent of the video folder)')
    parser.add_argument('--format', default='videos',
                        choices=['videos', 'rawframes'])
    parser.add_argument(
        '--data-root',
        help='the videos (or rawframes) folder the list paths are relative '
        'to; given, missing entries are left out (required for rawframes)')
    parser.add_argument(
        '--val-data-root',
        help='the same for the val split when it lives elsewhere '
        '(kinetics400: videos_val/ next to videos_train/)')
    parser.add_argument('--split', type=int, default=1, choices=[1, 2, 3],
                        help='hmdb51 split (the paper uses 1)')
    parser.add_argument('--level', type=int, default=2, choices=[1, 2],
                        help='kinetics400: 2 = videos in class folders')
    parser.add_argument(
        '--ext', help='video file extension (ssv2: .webm, kinetics400: .mp4)')
    parser.add_argument('--frame-prefix', default='img_',
                        help='file name prefix of extracted frames')
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help='folder: share of each class used for val')
    parser.add_argument('--seed', type=int, default=0,
                        help='folder: seed of the train/val split')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    args = parse_args(argv)
    fmt = args.format
    out_dir = args.out_dir or DEFAULT_OUT[args.dataset] or osp.dirname(
        osp.abspath(args.ann_dir))
    data_root = args.data_root
    if args.dataset == 'ssv2':
        splits = ssv2_entries(args.ann_dir, args.ext or '.webm')
        names = {s: f'sthv2_{s}_list_{fmt}.txt' for s in splits}
    elif args.dataset == 'hmdb51':
        splits = hmdb51_entries(args.ann_dir, args.split)
        names = {s: f'hmdb51_{s}_split_{args.split}_{fmt}.txt'
                 for s in splits}
    elif args.dataset == 'kinetics400':
        splits = kinetics_entries(args.ann_dir, args.level,
                                  args.ext or '.mp4')
        names = {s: f'kinetics400_{s}_list_{fmt}.txt' for s in splits}
    else:
        splits, classes = folder_entries(args.ann_dir, args.val_fraction,
                                         args.seed)
        names = {s: f'{s}_list_{fmt}.txt' for s in splits}
        if fmt == 'videos' and data_root is None:
            data_root = args.ann_dir
        os.makedirs(out_dir, exist_ok=True)
        with open(osp.join(out_dir, 'classes.txt'), 'w') as f:
            f.writelines(f'{i} {c}\n' for i, c in enumerate(classes))
        print(f'{osp.join(out_dir, "classes.txt")}: {len(classes)} classes')
    roots = {'train': data_root, 'val': args.val_data_root or data_root}
    return write_lists(splits, names, out_dir, fmt, roots, args.frame_prefix)


if __name__ == '__main__':
    try:
        main()
    except (AnnotationError, ValueError) as e:
        sys.exit(f'error: {e}')
