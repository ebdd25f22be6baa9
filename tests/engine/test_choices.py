"""The project's choices are on only where a config switches them on, and
only while its run lasts."""
import pytest
from mmengine.config import Config
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.runner import checkpoint as ckpt_module

import adaptformer_mm  # noqa: F401  (registrations)
from adaptformer_mm.engine import runtime_choices

from ..conftest import DEMO_CONFIG


def _on():
    """Which choices are in place in mmengine now."""
    return dict(
        strict_loading=ckpt_module.load_state_dict.__module__ ==
        'adaptformer_mm.engine.strict_loading',
        fold_frozen_param_warnings=hasattr(
            DefaultOptimWrapperConstructor.add_params, '__wrapped__'))


def test_importing_the_package_switches_nothing_on():
    assert _on() == dict(strict_loading=False,
                         fold_frozen_param_warnings=False)


def test_the_shipped_runtime_switches_both_on():
    cfg = Config.fromfile(DEMO_CONFIG)
    with runtime_choices(cfg):
        assert _on() == dict(strict_loading=True,
                             fold_frozen_param_warnings=True)
    assert _on() == dict(strict_loading=False,
                         fold_frozen_param_warnings=False)


@pytest.mark.parametrize('cfg, expected', [
    (dict(), dict(strict_loading=False, fold_frozen_param_warnings=False)),
    (dict(strict_loading=True, fold_frozen_param_warnings=False),
     dict(strict_loading=True, fold_frozen_param_warnings=False)),
    (dict(strict_loading=False, fold_frozen_param_warnings=True),
     dict(strict_loading=False, fold_frozen_param_warnings=True)),
])
def test_each_key_switches_its_choice(cfg, expected):
    with runtime_choices(Config(cfg)):
        assert _on() == expected


@pytest.mark.parametrize('value', ['yes', 1, None])
def test_a_value_other_than_a_bool_names_the_key(value):
    with pytest.raises(TypeError, match=f'^config key strict_loading must be '
                       f'True or False, got {value!r}$'):
        with runtime_choices(Config(dict(strict_loading=value))):
            pass
