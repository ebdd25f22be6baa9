"""The project's choices on top of mmengine, switched on by the config.

A choice changes what mmengine does on purpose (unlike the fixes of
:mod:`adaptformer_mm.compat`, which make the pinned stack work and are
applied on import). Each is a top-level config key; the base runtimes
(``configs/_base_/default_runtime.py``, ``configs/image/_base_/
default_runtime.py``) set both to True, a config without the key keeps
mmengine's behaviour, and ``--cfg-options KEY=False`` turns one off:

==============================  ==============================================
key                             while the run lasts
==============================  ==============================================
``strict_loading``              a checkpoint whose tensors do not fit the model
                                is refused, naming the file and the keys
                                (:mod:`~.strict_loading`)
``fold_frozen_param_warnings``  one log line for the frozen tensors the
                                optimizer leaves out, instead of one warning
                                each (:mod:`~.frozen_param_log`)
==============================  ==============================================

``tools/train.py`` and ``tools/test.py`` run the Runner inside
:func:`runtime_choices`; code that builds a Runner itself does the same::

    with runtime_choices(cfg):
        Runner.from_cfg(cfg).train()
"""
from contextlib import ExitStack, contextmanager
from typing import Iterator

from .frozen_param_log import fold_frozen_param_warnings
from .strict_loading import strict_loading

__all__ = ['CHOICES', 'runtime_choices']

# config key -> the context manager that switches the choice on.
CHOICES = {
    'strict_loading': strict_loading,
    'fold_frozen_param_warnings': fold_frozen_param_warnings,
}


@contextmanager
def runtime_choices(cfg) -> Iterator[None]:
    """The choices ``cfg`` switches on, for the duration of the block;
    mmengine is as it was afterwards.

    Raises:
        TypeError: a choice's key holds something other than True or False
            (the key and the value are named).
    """
    with ExitStack() as stack:
        for key, switch in CHOICES.items():
            value = cfg.get(key, False)
            if not isinstance(value, bool):
                raise TypeError(f'config key {key} must be True or False, got '
                                f'{value!r}')
            if value:
                stack.enter_context(switch())
        yield
