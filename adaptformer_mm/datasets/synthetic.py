"""Synthetic action clips written as real video files.

The built-in demo needs data that exists on every machine without a download,
yet goes through exactly the path real datasets take: mp4 files on disk, an
mmaction2 annotation list (``relative/path.mp4 <label>`` per line), decord
decoding inside ``VideoDataset``'s pipeline.

Each clip shows one bright object on a noisy background; the class is decided
by *how it moves*, so a single frame cannot solve the task and the model has
to use time:

``direction``  (4 classes) the object translates left, right, up or down.
``dynamics``   (4 classes) a bar stays put and grows, shrinks, rotates
               clockwise or rotates counter-clockwise.

Position, size, colour, speed and noise are random per clip; generation is
deterministic given ``seed``.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np

Renderer = Callable[[np.random.Generator, int, int, int], np.ndarray]


def _background(rng, num_frames, size):
    base = rng.integers(0, 60, size=3)
    noise = rng.integers(0, 40, size=(num_frames, size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _colour(rng):
    return tuple(int(c) for c in rng.integers(150, 256, size=3))


def _render_direction(rng, label, num_frames, size):
    """Square moving left/right/up/down at a random constant speed."""
    frames = _background(rng, num_frames, size)
    side = int(rng.integers(size // 8, size // 4))
    speed = rng.uniform(1.5, 3.0)
    travel = speed * (num_frames - 1)
    colour = _colour(rng)
    # Start so that the whole path stays inside the frame.
    lo, hi = 0, size - side
    along_start = rng.uniform(lo, max(lo, hi - travel))
    across = rng.uniform(lo, hi)
    for t in range(num_frames):
        along = along_start + speed * t
        if label in (0, 2):  # 0: right, 2: down (positive direction)
            pos = along
        else:  # 1: left, 3: up
            pos = hi - (along - lo)
        x, y = (pos, across) if label in (0, 1) else (across, pos)
        x0, y0 = int(round(x)), int(round(y))
        frames[t, y0:y0 + side, x0:x0 + side] = colour
    return frames


def _render_dynamics(rng, label, num_frames, size):
    """Bar that grows, shrinks, rotates clockwise or counter-clockwise."""
    frames = _background(rng, num_frames, size)
    colour = _colour(rng)
    cx, cy = rng.uniform(size * 0.35, size * 0.65, size=2)
    thickness = int(rng.integers(3, 6))
    angle0 = rng.uniform(0, np.pi)
    length0 = rng.uniform(size * 0.25, size * 0.4)
    rate = rng.uniform(0.6, 1.0)
    for t in range(num_frames):
        frac = t / max(1, num_frames - 1)
        angle, length = angle0, length0
        if label == 0:  # grows
            length = length0 * (0.4 + 0.8 * frac * rate)
        elif label == 1:  # shrinks
            length = length0 * (1.2 - 0.8 * frac * rate)
        elif label == 2:  # clockwise (image y points down)
            angle = angle0 + 1.2 * frac * rate * np.pi / 2
        else:  # counter-clockwise
            angle = angle0 - 1.2 * frac * rate * np.pi / 2
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        p0 = (int(round(cx - dx)), int(round(cy - dy)))
        p1 = (int(round(cx + dx)), int(round(cy + dy)))
        frame = np.ascontiguousarray(frames[t])
        cv2.line(frame, p0, p1, colour, thickness)
        frames[t] = frame
    return frames


SYNTHETIC_TASKS: Dict[str, Tuple[Tuple[str, ...], Renderer]] = {
    'direction': (('right', 'left', 'down', 'up'), _render_direction),
    'dynamics': (('grow', 'shrink', 'rotate_cw', 'rotate_ccw'),
                 _render_dynamics),
}


def write_video(path: str, frames: np.ndarray, fps: int = 8) -> None:
    """Write RGB uint8 frames of shape (T, H, W, 3) as an MPEG-4 mp4 file."""
    t, h, w, _ = frames.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot open a video writer for {path}')
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def generate_synthetic_dataset(root: str,
                               task: str = 'direction',
                               num_train: int = 96,
                               num_val: int = 32,
                               num_frames: int = 16,
                               size: int = 64,
                               seed: int = 0,
                               overwrite: bool = False) -> Dict[str, str]:
    """Write a synthetic action dataset in mmaction2's ``VideoDataset`` layout.

    Layout::

        root/
          meta.json                 parameters, so a rerun can reuse the data
          classes.txt               one class name per line (index = label)
          train/xxxxx.mp4, val/xxxxx.mp4
          train_list.txt, val_list.txt   "train/00000.mp4 2" per line

    Classes are balanced (clip ``i`` has label ``i % num_classes``).

    Args:
        root: output folder.
        task: one of :data:`SYNTHETIC_TASKS`.
        size: frame height = width in pixels. decord fails on some tiny
            widths (48, 72 seen), so keep a multiple of 32.
        overwrite: an existing dataset made with other parameters is
            refused unless this is True; the same parameters reuse it.

    Returns:
        Paths: ``root``, ``train_list``, ``val_list``, ``classes``.
    """
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f'unknown synthetic task {task!r}; valid tasks: '
                         f'{sorted(SYNTHETIC_TASKS)}')
    if size % 32:
        raise ValueError(f'size={size}: use a multiple of 32 (decord cannot '
                         'decode some other small widths)')
    classes, render = SYNTHETIC_TASKS[task]
    meta = dict(task=task, num_train=num_train, num_val=num_val,
                num_frames=num_frames, size=size, seed=seed,
                classes=list(classes))
    paths = dict(root=root,
                 train_list=osp.join(root, 'train_list.txt'),
                 val_list=osp.join(root, 'val_list.txt'),
                 classes=osp.join(root, 'classes.txt'))
    meta_file = osp.join(root, 'meta.json')
    if osp.isfile(meta_file):
        with open(meta_file) as f:
            old = json.load(f)
        complete = all(osp.isfile(p) for p in paths.values() if p != root)
        if old == meta and complete:
            return paths
        if not overwrite:
            raise FileExistsError(
                f'{root} already holds a synthetic dataset made with other '
                f'parameters ({meta_file}: {old}); choose another root or '
                'pass overwrite=True')
    elif osp.isdir(root) and os.listdir(root) and not overwrite:
        raise FileExistsError(
            f'{root} exists, is not empty and was not written by this '
            'generator; choose another root or pass overwrite=True')

    os.makedirs(root, exist_ok=True)
    for split, count, split_seed in (('train', num_train, seed),
                                     ('val', num_val, seed + 1_000_003)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        lines: List[str] = []
        for i in range(count):
            label = i % len(classes)
            rng = np.random.default_rng([split_seed, i])
            rel = f'{split}/{i:05d}.mp4'
            write_video(osp.join(root, rel),
                        render(rng, label, num_frames, size))
            lines.append(f'{rel} {label}')
        _write_lines(paths[f'{split}_list'], lines)
    _write_lines(paths['classes'], classes)
    # Written last: its presence marks a complete dataset.
    with open(meta_file, 'w') as f:
        json.dump(meta, f, indent=2)
    return paths


def _write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
