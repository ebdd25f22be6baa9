"""Every fix names the versions it was written for: silent on them, one
warning naming the package, the installed version and the fix elsewhere, and
then applied or skipped as its docstring says.

Each row undoes its fix (the package import applied it), sets the package's
``__version__`` and applies the fix again.
"""
import sys
import warnings
from dataclasses import dataclass
from typing import Callable

import mmaction
import mmengine
import pytest
import torch
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.runner.checkpoint import CheckpointLoader

import adaptformer_mm  # noqa: F401  (applies the fixes)
from adaptformer_mm.compat import (_guard, checkpoint_argument,
                                   checkpoint_loading, head_loss_dtype,
                                   mmaction_imports, optim_param_groups)
from adaptformer_mm.compat._guard import StackVersionWarning, version_guard


def _undo_checkpoint_loader(monkeypatch):
    from mmengine.runner.checkpoint import load_from_local
    monkeypatch.setitem(CheckpointLoader._schemes, '', load_from_local)


def _checkpoint_loader_applied():
    return CheckpointLoader._schemes[''] is checkpoint_loading.load_from_local


def _undo_checkpoint_argument(monkeypatch):
    fixed = CheckpointLoader.__dict__['_get_checkpoint_loader'].__func__
    monkeypatch.setattr(CheckpointLoader, '_get_checkpoint_loader',
                        classmethod(fixed.__wrapped__))


def _checkpoint_argument_applied():
    lookup = CheckpointLoader.__dict__['_get_checkpoint_loader'].__func__
    return hasattr(lookup, '__wrapped__')


def _undo_optim_param_groups(monkeypatch):
    monkeypatch.setattr(DefaultOptimWrapperConstructor, '__call__',
                        DefaultOptimWrapperConstructor.__call__.__wrapped__)


def _head():
    # Imported here: mmaction.models imports only after adaptformer_mm.
    from mmaction.models.heads.base import BaseHead
    return BaseHead


def _undo_head_loss_dtype(monkeypatch):
    monkeypatch.setattr(_head(), 'loss_by_feat',
                        _head().loss_by_feat.__wrapped__)


def _undo_mmaction_imports(monkeypatch):
    # As before mmaction.models was first imported: no stand-in finder,
    # VindLU enabled.
    import mmaction.utils.dependency as dependency
    monkeypatch.delitem(sys.modules, 'mmaction.models')
    monkeypatch.setattr(sys, 'meta_path', [
        f for f in sys.meta_path
        if not isinstance(f, mmaction_imports._DRNStubFinder)
    ])
    monkeypatch.setattr(dependency, 'WITH_MULTIMODAL', True)


def _mmaction_imports_applied():
    import mmaction.utils.dependency as dependency
    return (not dependency.WITH_MULTIMODAL and any(
        isinstance(f, mmaction_imports._DRNStubFinder)
        for f in sys.meta_path))


@dataclass
class Fix:
    apply: Callable[[], None]
    undo: Callable
    applied: Callable[[], bool]
    module: object  # whose __version__ the guard reads
    other_version: str  # outside the versions the fix was written for
    elsewhere: str  # 'apply' or 'skip' there


FIXES = {
    'checkpoint_loader on torch < 2.6':
    Fix(checkpoint_loading.patch_checkpoint_loader, _undo_checkpoint_loader,
        _checkpoint_loader_applied, torch, '2.5.1', 'skip'),
    'checkpoint_loader on another mmengine':
    Fix(checkpoint_loading.patch_checkpoint_loader, _undo_checkpoint_loader,
        _checkpoint_loader_applied, mmengine, '0.11.0', 'apply'),
    'checkpoint_argument':
    Fix(checkpoint_argument.patch_checkpoint_argument,
        _undo_checkpoint_argument, _checkpoint_argument_applied, mmengine,
        '0.10.5', 'apply'),
    'optim_param_groups':
    Fix(optim_param_groups.patch_optim_param_groups,
        _undo_optim_param_groups,
        lambda: hasattr(DefaultOptimWrapperConstructor.__call__,
                        '__wrapped__'), mmengine, '0.11.0', 'apply'),
    'head_loss_dtype':
    Fix(head_loss_dtype.patch_head_loss_dtype, _undo_head_loss_dtype,
        lambda: hasattr(_head().loss_by_feat, '__wrapped__'), mmaction,
        '1.3.0', 'apply'),
    'mmaction_imports':
    Fix(mmaction_imports.patch_mmaction_imports, _undo_mmaction_imports,
        _mmaction_imports_applied, mmaction, '1.2.1', 'apply'),
}


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test starts with no fix warned about."""
    monkeypatch.setattr(_guard, '_WARNED', set())


def _stack_warnings(record):
    return [str(w.message) for w in record
            if issubclass(w.category, StackVersionWarning)]


@pytest.mark.parametrize('name', FIXES)
def test_on_the_pinned_versions_a_fix_applies_silently(name, monkeypatch):
    fix = FIXES[name]
    fix.undo(monkeypatch)
    assert not fix.applied()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        fix.apply()
    assert fix.applied()
    assert _stack_warnings(record) == []


@pytest.mark.parametrize('name', FIXES)
def test_on_another_version_a_fix_warns_once_and_does_what_it_says(
        name, monkeypatch):
    fix = FIXES[name]
    fix.undo(monkeypatch)
    monkeypatch.setattr(fix.module, '__version__', fix.other_version)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        fix.apply()
        fix.apply()  # a second time: no second warning
    messages = _stack_warnings(record)
    assert len(messages) == 1
    package = {mmaction: 'mmaction2'}.get(fix.module, fix.module.__name__)
    assert f'{package} {fix.other_version} is installed' in messages[0]
    assert messages[0].startswith('adaptformer_mm.compat: the fix for ')
    if fix.elsewhere == 'apply':
        assert 'applied anyway' in messages[0]
        assert fix.applied()
    else:
        assert 'skipped' in messages[0]
        assert not fix.applied()


def test_the_guard_names_range_and_version(monkeypatch):
    monkeypatch.setattr(mmengine, '__version__', '0.9.1')
    with pytest.warns(StackVersionWarning) as record:
        assert version_guard('mmengine', '>=0.10,<0.11', 'a thing',
                             elsewhere='skip') is False
    assert str(record[0].message) == (
        'adaptformer_mm.compat: the fix for a thing was written for '
        'mmengine>=0.10,<0.11, but mmengine 0.9.1 is installed: skipped: '
        'that version does not need it.')


@pytest.mark.parametrize('version, inside', [('2.6.0', True),
                                             ('2.14.1+cpu', True),
                                             ('2.6.0a0+git1234', True),
                                             ('2.5.1', False)])
def test_local_and_pre_releases_count_as_their_release(version, inside,
                                                       monkeypatch):
    monkeypatch.setattr(torch, '__version__', version)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        assert version_guard('torch', '>=2.6', 'x', elsewhere='skip') \
            is inside
    assert len(_stack_warnings(record)) == (0 if inside else 1)


def test_the_guard_refuses_an_unknown_policy():
    with pytest.raises(ValueError, match="elsewhere must be 'apply' or "
                       "'skip', got 'maybe'"):
        version_guard('torch', '>=2.6', 'x', elsewhere='maybe')
