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
``prim24``     (24 classes) a broad pre-training corpus: 3 filled shapes
               (rectangle, triangle, ellipse) x 8 motions (right, left,
               down, up, clockwise, counter-clockwise, grow, shrink). The
               bar of ``dynamics`` and the outline square of ``order`` are
               held out of it, so transferring to them is a new task.
``order``      (4 classes) temporal order, as in Something-Something: an
               outline square moves right, moves left, moves right and back,
               or moves left and back; the "and back" classes hold the same
               displacements as the plain ones in the first half, so only
               what happens later tells them apart.

Position, size, colour, speed and noise are random per clip; generation is
deterministic given ``seed``.
"""
import inspect
import json
import os
import os.path as osp
import shutil
from types import MappingProxyType
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

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


PRIM24_SHAPES = ('rectangle', 'triangle', 'ellipse')
PRIM24_MOTIONS = ('right', 'left', 'down', 'up', 'rotate_cw', 'rotate_ccw',
                  'grow', 'shrink')


def _shape_outline(shape, rng):
    """Unit-size polygon (N, 2) of a shape centred on the origin."""
    if shape == 'rectangle':
        aspect = rng.uniform(0.45, 0.75)
        return np.array([[-1, -aspect], [1, -aspect], [1, aspect],
                         [-1, aspect]], dtype=np.float64)
    if shape == 'triangle':
        return np.array([[0, -1], [0.87, 0.6], [-0.87, 0.6]],
                        dtype=np.float64)
    aspect = rng.uniform(0.4, 0.65)  # ellipse: elongated so rotation shows
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    return np.stack([np.cos(t), aspect * np.sin(t)], axis=1)


def _render_prim24(rng, label, num_frames, size):
    """One of 3 filled shapes doing one of 8 motions (label = 8*shape+motion).

    Size, colour, start position, orientation, speed and noise level are
    random, so shape and motion are the only constants of a class.
    """
    shape = PRIM24_SHAPES[label // len(PRIM24_MOTIONS)]
    motion = PRIM24_MOTIONS[label % len(PRIM24_MOTIONS)]
    base = rng.integers(0, 60, size=3)
    noise = rng.integers(0, int(rng.integers(10, 50)),
                         size=(num_frames, size, size, 3))
    frames = np.clip(base + noise, 0, 255).astype(np.uint8)
    colour = _colour(rng)
    outline = _shape_outline(shape, rng)
    radius = rng.uniform(size * 0.12, size * 0.2)
    angle0 = rng.uniform(0, 2 * np.pi)
    rate = rng.uniform(0.6, 1.0)
    speed = rng.uniform(1.2, 2.2)  # pixels per frame when translating
    travel = speed * (num_frames - 1)
    margin = radius * 1.3
    centre = rng.uniform(size * 0.35, size * 0.65, size=2)
    step = {'right': (1, 0), 'left': (-1, 0), 'down': (0, 1),
            'up': (0, -1)}.get(motion)
    if step is not None:  # start so that the whole path stays inside
        lo, hi = margin, size - margin
        start = rng.uniform(lo, max(lo, hi - travel))
        along = 0 if step[1] == 0 else 1
        centre[along] = start if sum(step) > 0 else size - start
    for t in range(num_frames):
        frac = t / max(1, num_frames - 1)
        angle, scale, (cx, cy) = angle0, 1.0, centre
        if step is not None:
            cx, cy = centre + speed * t * np.array(step)
        elif motion == 'rotate_cw':  # image y points down
            angle = angle0 + 1.2 * frac * rate * np.pi / 2
        elif motion == 'rotate_ccw':
            angle = angle0 - 1.2 * frac * rate * np.pi / 2
        elif motion == 'grow':
            scale = 0.5 + 0.9 * frac * rate
        else:  # shrink
            scale = 1.4 - 0.9 * frac * rate
        c, s = np.cos(angle), np.sin(angle)
        points = outline @ np.array([[c, s], [-s, c]]) * radius * scale
        points = np.round(points + (cx, cy)).astype(np.int32)
        frame = np.ascontiguousarray(frames[t])
        cv2.fillPoly(frame, [points], colour)
        frames[t] = frame
    return frames


def _render_order(rng, label, num_frames, size):
    """Outline square: right, left, right and back, left and back."""
    frames = _background(rng, num_frames, size)
    colour = _colour(rng)
    side = int(rng.integers(size // 6, size // 4))
    # "and back" clips turn at a random point in the second half, so the
    # first half is the same displacement as a plain clip's.
    turn = int(rng.integers(num_frames // 2, num_frames - 2))
    speed = rng.uniform(1.5, 2.5)
    lo, hi = 0, size - side
    x0 = rng.uniform(lo, max(lo, hi - speed * (num_frames - 1)))
    y = int(round(rng.uniform(lo, hi)))
    sign = 1 if label in (0, 2) else -1
    for t in range(num_frames):
        moved = speed * (t if label < 2 or t <= turn else 2 * turn - t)
        x = x0 + moved if sign > 0 else hi - (x0 - lo) - moved
        x = int(round(np.clip(x, lo, hi)))
        frame = np.ascontiguousarray(frames[t])
        cv2.rectangle(frame, (x, y), (x + side - 1, y + side - 1), colour, 2)
        frames[t] = frame
    return frames


SYNTHETIC_TASKS: Dict[str, Tuple[Tuple[str, ...], Renderer]] = {
    'direction': (('right', 'left', 'down', 'up'), _render_direction),
    'dynamics': (('grow', 'shrink', 'rotate_cw', 'rotate_ccw'),
                 _render_dynamics),
    'prim24': (tuple(f'{shape}_{motion}' for shape in PRIM24_SHAPES
                     for motion in PRIM24_MOTIONS), _render_prim24),
    'order': (('right', 'left', 'right_and_back', 'left_and_back'),
              _render_order),
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
                               num_test: int = 0,
                               num_frames: int = 16,
                               size: int = 64,
                               seed: int = 0,
                               overwrite: bool = False) -> Dict[str, str]:
    """Write a synthetic action dataset in mmaction2's ``VideoDataset`` layout.

    Layout::

        root/
          meta.json                 parameters, so a rerun can reuse the data
          classes.txt               one class name per line (index = label)
          train/xxxxx.mp4, val/xxxxx.mp4 (test/xxxxx.mp4)
          train_list.txt, val_list.txt (test_list.txt)   "train/00000.mp4 2"
                                    per line

    Classes are balanced (clip ``i`` has label ``i % num_classes``).

    Args:
        root: output folder.
        task: one of :data:`SYNTHETIC_TASKS`.
        num_test: clips of a held-out test split (none when 0), for
            choosing settings on ``val`` and reporting on ``test``.
        size: frame height = width in pixels. decord fails on some tiny
            widths (48, 72 seen), so keep a multiple of 32.
        overwrite: an existing dataset made with other parameters is
            refused unless this is True; the same parameters reuse it.

    Returns:
        Paths: ``root``, ``train_list``, ``val_list``, ``classes`` (and
        ``test_list`` when ``num_test`` > 0).
    """
    check_synthetic_params(task, size)
    classes, render = SYNTHETIC_TASKS[task]
    meta = dict(task=task, num_train=num_train, num_val=num_val,
                num_frames=num_frames, size=size, seed=seed,
                classes=list(classes))
    splits = [('train', num_train, seed), ('val', num_val, seed + 1_000_003)]
    if num_test:
        # Only then recorded, so datasets written before test splits
        # existed are still recognised and reused.
        meta['num_test'] = num_test
        splits.append(('test', num_test, seed + 2_000_003))
    paths = dict(root=root, classes=osp.join(root, 'classes.txt'))
    for split, _, _ in splits:
        paths[f'{split}_list'] = osp.join(root, f'{split}_list.txt')
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

    # A new dataset is written beside its root and renamed into place, so
    # processes that start together (parallel demo stages, ranks) never see
    # or write a half-made one: the first rename wins, the others reuse it.
    fresh = not osp.exists(root) or not os.listdir(root)
    target = f'{root}.tmp-{os.getpid()}' if fresh else root
    os.makedirs(target, exist_ok=True)
    for split, count, split_seed in splits:
        os.makedirs(osp.join(target, split), exist_ok=True)
        lines: List[str] = []
        for i in range(count):
            label = i % len(classes)
            rng = np.random.default_rng([split_seed, i])
            rel = f'{split}/{i:05d}.mp4'
            write_video(osp.join(target, rel),
                        render(rng, label, num_frames, size))
            lines.append(f'{rel} {label}')
        _write_lines(osp.join(target, f'{split}_list.txt'), lines)
    _write_lines(osp.join(target, 'classes.txt'), classes)
    # Written last: its presence marks a complete dataset.
    with open(osp.join(target, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    if fresh:
        try:
            os.rename(target, root)
        except OSError:  # another process finished first
            shutil.rmtree(target)
            return generate_synthetic_dataset(root, **{
                k: v for k, v in meta.items() if k != 'classes'})
    return paths


def check_synthetic_params(task: str, size: int) -> None:
    """Refuse an unknown ``task`` or a frame ``size`` decord cannot read,
    naming the valid values (:class:`ValueError`)."""
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f'unknown synthetic task {task!r}; valid tasks: '
                         f'{sorted(SYNTHETIC_TASKS)}')
    if size % 32:
        raise ValueError(f'size={size}: use a multiple of 32 (decord cannot '
                         'decode some other small widths)')


#: The parameters that decide a generated dataset, with their defaults:
#: those of :func:`generate_synthetic_dataset` (all but ``root`` and
#: ``overwrite``), read from its signature so that they are written once.
SYNTHETIC_DEFAULTS: Mapping[str, object] = MappingProxyType({
    name: param.default
    for name, param in inspect.signature(
        generate_synthetic_dataset).parameters.items()
    if name not in ('root', 'overwrite')
})


def _write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
