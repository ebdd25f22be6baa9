"""Log what trains, at the start of every run (fresh, resumed or loaded)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from adaptformer_mm.peft import summarize_parameters


@HOOKS.register_module()
class TunableSummaryHook(Hook):
    """Write the trainable-parameter summary of the whole model (backbone,
    method modules and head) to the training log in ``before_train``.

    ``before_train`` runs after checkpoint loading and resuming, so the log
    shows the set the optimizer really updates:
    ``trainable params: N || all params: M || trainable%: x`` and the
    trainable modules.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        runner.logger.info('Tunable parameters of the model:\n' +
                           summarize_parameters(model).format())
