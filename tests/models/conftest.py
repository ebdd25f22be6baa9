"""Fixtures over the table of tiny families (``backbones/tiny_families.py``):
``tiny`` and ``video`` are the VideoMAE ViT and its input, ``image_tiny`` and
``images`` the mmpretrain ViT and its input."""
import pytest

from tests.models.backbones.tiny_families import VIDEO_VIT, VIT

# The VideoMAE ViT's stock model and tuned copy, for modules outside this
# folder that import them.
randomized_stock = VIDEO_VIT.stock
tuned_like = VIDEO_VIT.like


@pytest.fixture
def tiny():
    return VIDEO_VIT


@pytest.fixture
def video():
    return VIDEO_VIT.inputs()


@pytest.fixture
def image_tiny():
    return VIT


@pytest.fixture
def images():
    return VIT.inputs()
