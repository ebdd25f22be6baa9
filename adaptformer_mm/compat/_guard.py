"""Each fix names the versions it was written for, and says so elsewhere.

A fix in :mod:`adaptformer_mm.compat` repairs a defect of one release of a
package. Before it patches anything it calls :func:`version_guard` with that
package, the versions it was written for (a PEP 440 specifier) and one line
on what it repairs. On those versions the fix applies silently. On any other
version one :class:`StackVersionWarning` names the package, the installed
version and the fix, and the fix does what its docstring chose:

* ``elsewhere='apply'``: the fix is harmless where the defect is gone, and
  leaving it out could break a run where the defect is still there; it is
  applied, and the warning asks to check whether it is still needed.
* ``elsewhere='skip'``: the fix is known to be unnecessary there; it is left
  out.

The installed version is the ``__version__`` of the module the package
installs (``mmaction`` for ``mmaction2``), which is what tests monkeypatch.
"""
import functools
import importlib
import warnings

from packaging.specifiers import SpecifierSet
from packaging.version import Version

__all__ = ['APPLY', 'SKIP', 'StackVersionWarning', 'installed_version',
           'version_guard']

APPLY, SKIP = 'apply', 'skip'

# Distribution name -> the module that carries its __version__.
_MODULES = {'mmaction2': 'mmaction'}

# (package, fix) pairs already warned about: one warning per process.
_WARNED = set()


class StackVersionWarning(UserWarning):
    """A fix met a version of a package other than the one it was written
    for."""


def installed_version(package: str) -> str:
    """``__version__`` of the module ``package`` installs."""
    return str(importlib.import_module(_MODULES.get(package, package))
               .__version__)


def version_guard(package: str, written_for: str, fix: str,
                  elsewhere: str) -> bool:
    """Whether to apply ``fix`` with the installed ``package``.

    Args:
        package: the distribution, e.g. ``'mmengine'``, ``'torch'``,
            ``'mmaction2'``.
        written_for: the versions the fix was written for, as a PEP 440
            specifier (``'==0.10.7'``, ``'>=2.6'``); pre-releases and local
            versions (``2.14.1+cpu``) count as their release.
        fix: one line on what the fix repairs, named in the warning.
        elsewhere: :data:`APPLY` or :data:`SKIP`, what to do on a version
            outside ``written_for`` (see the module docstring).

    Returns:
        True on a version in ``written_for``, otherwise
        ``elsewhere == 'apply'``; outside the range warns once per fix.
    """
    if elsewhere not in (APPLY, SKIP):
        raise ValueError(f'elsewhere must be {APPLY!r} or {SKIP!r}, got '
                         f'{elsewhere!r}')
    version = installed_version(package)
    if Version(Version(version).base_version) in SpecifierSet(written_for):
        return True
    if (package, fix) not in _WARNED:
        _WARNED.add((package, fix))
        action = ('applied anyway (harmless where the defect is gone); check '
                  'whether it is still needed' if elsewhere == APPLY else
                  'skipped: that version does not need it')
        warnings.warn(
            f'adaptformer_mm.compat: the fix for {fix} was written for '
            f'{package}{written_for}, but {package} {version} is installed: '
            f'{action}.', StackVersionWarning, stacklevel=3)
    return elsewhere == APPLY


def wrap_method(owner: type, name: str, mark: str, make) -> None:
    """``owner.name`` replaced by ``make(original)``, a function with the
    original's signature (a classmethod stays one), once: nothing happens
    when the method there is already a wrapper carrying ``mark``."""
    attr = owner.__dict__.get(name) or getattr(owner, name)
    is_classmethod = isinstance(attr, classmethod)
    original = attr.__func__ if is_classmethod else attr
    if getattr(original, mark, False):
        return
    wrapper = functools.wraps(original)(make(original))
    setattr(wrapper, mark, True)
    setattr(owner, name, classmethod(wrapper) if is_classmethod else wrapper)
