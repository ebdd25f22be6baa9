"""A learnable position table loaded into a video ViT built for another
frame count or input size: resized over space and time separately from the
checkpoint's real T x H x W grid, or refused naming both grids.

The inflate tool's table is an image table tiled over time (4 x 4 x 4 for 8
frames of 64 px here); loaded into a 32 px model (2 x 2 spatial grid) it
used to be read as 16 time steps of a 2 x 2 grid."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer

import adaptformer_mm  # noqa: F401  (stack fixes, registrations)
from adaptformer_mm.models import TunableVideoViT
from adaptformer_mm.models.backbones import tunable_video_vit

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)
D = 64


def image_vit():
    """A tiny image ViT for 64 px inputs (4 x 4 patches + CLS), its position
    table random."""
    torch.manual_seed(0)
    model = VisionTransformer(arch=ARCH, img_size=64)
    with torch.no_grad():
        model.pos_embed.normal_(0.0, 0.5)
    return model


def video_vit(img_size, num_frames, **kwargs):
    return TunableVideoViT(img_size=img_size, patch_size=16, embed_dims=D,
                           depth=2, num_heads=4, num_frames=num_frames,
                           tubelet_size=2, use_learnable_pos_emb=True,
                           **kwargs)


def inflate(tmp_path, image, num_frames, img_size):
    """``tools/inflate_image_to_video.py`` as the README runs it."""
    from tools.inflate_image_to_video import main
    src = str(tmp_path / 'image.pth')
    dst = str(tmp_path / f'video_{num_frames}f_{img_size}px.pth')
    torch.save({'state_dict': {'backbone.' + k: v
                               for k, v in image.state_dict().items()}}, src)
    assert main([src, dst, '--num-frames', str(num_frames), '--img-size',
                 str(img_size)]) == 0
    return dst


def pretrained(path, img_size, num_frames):
    model = video_vit(img_size, num_frames, init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    return model


@pytest.fixture
def logs(monkeypatch):
    found = []
    monkeypatch.setattr(tunable_video_vit, 'print_log',
                        lambda msg, **kwargs: found.append(msg))
    return found


def space_then_time(grid, size, frames):
    """``grid`` ``(1, d, t, h, w)`` resized step by step: bicubic over
    (h, w) at every time step, then linear over t at every position; returned
    as a ``(1, frames*H*W, d)`` table."""
    _, d, t, h, w = grid.shape
    per_step = grid[0].permute(1, 0, 2, 3)  # (t, d, h, w)
    space = F.interpolate(per_step, size=size, mode='bicubic',
                          align_corners=False)  # (t, d, H, W)
    per_position = space.permute(2, 3, 1, 0).reshape(1, -1, t)
    time = F.interpolate(per_position, size=frames, mode='linear',
                         align_corners=False)  # (1, H*W*d, T)
    return time.reshape(*size, d, frames).permute(3, 0, 1, 2).reshape(
        1, -1, d)


def test_inflated_table_loads_into_a_smaller_model_space_and_time_apart(
        tmp_path, logs):
    image = image_vit()
    path = inflate(tmp_path, image, num_frames=8, img_size=64)
    model = pretrained(path, img_size=32, num_frames=4)

    patches = image.pos_embed[:, 1:].detach()  # CLS position dropped
    source = patches.reshape(1, 4, 4, D).permute(0, 3, 1, 2)  # (1, d, h, w)
    tiled = source.unsqueeze(2).expand(-1, -1, 4, -1, -1)  # 4 time steps
    expected = space_then_time(tiled, size=(2, 2), frames=2)
    assert model.pos_embed.shape == (1, 2 * 2 * 2, D)
    torch.testing.assert_close(model.pos_embed.detach(), expected)
    [message] = [m for m in logs if 'pos_embed' in m]
    assert '4x4x4' in message and '2x2x2' in message


def test_same_frames_other_size_equals_inflating_for_that_size(tmp_path):
    image = image_vit()
    big = inflate(tmp_path, image, num_frames=8, img_size=64)
    small = inflate(tmp_path, image, num_frames=8, img_size=32)
    loaded = pretrained(big, img_size=32, num_frames=8)
    direct = torch.load(small, weights_only=True)['state_dict']
    assert torch.equal(loaded.pos_embed.detach(),
                       direct['backbone.pos_embed'])


def test_table_without_a_knowable_grid_is_refused_naming_both_grids():
    torch.manual_seed(0)
    model = video_vit(img_size=32, num_frames=4)
    state = model.state_dict()
    # 64 tokens varying over time: 4x4x4, 16x2x2, 64x1x1 or 1x8x8.
    state['pos_embed'] = torch.randn(1, 64, D)
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert message.startswith('pos_embed: checkpoint table (1, 64, 64)')
    assert "this model's 2x2x2 (T x H x W)" in message
    for grid in ('64x1x1', '16x2x2', '4x4x4', '1x8x8'):
        assert grid in message
    assert 'num_frames' in message and 'img_size' in message


def test_grid_fixed_by_the_token_count_is_resized_space_and_time_apart(
        logs):
    # 6 tokens of a square grid can only be 6 x 1 x 1 (a table that varies
    # over time, so both steps matter).
    torch.manual_seed(0)
    model = video_vit(img_size=32, num_frames=4)
    state = model.state_dict()
    table = torch.randn(1, 6, D)
    state['pos_embed'] = table
    model.load_state_dict(state)
    grid = table.reshape(1, 6, 1, 1, D).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(model.pos_embed.detach(),
                               space_then_time(grid, size=(2, 2), frames=2))
    [message] = [m for m in logs if 'pos_embed' in m]
    assert '6x1x1' in message and '2x2x2' in message
