"""Log what trains, at the start of every run (fresh, resumed or loaded), and
write it to ``WORK_DIR/tunable_summary.json`` for tools that read runs back."""
import json
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from adaptformer_mm.peft import summarize_parameters

#: The summary's file in the work dir.
SUMMARY_FILE = 'tunable_summary.json'


@HOOKS.register_module()
class TunableSummaryHook(Hook):
    """Write the trainable-parameter summary of the whole model (backbone,
    method modules and head) to the training log and, as plain data, to
    ``WORK_DIR/tunable_summary.json`` in ``before_train``.

    ``before_train`` runs after checkpoint loading and resuming, so both show
    the set the optimizer really updates: the log has
    ``trainable params: N || all params: M || trainable%: x`` and the
    trainable modules; the file (written by the main process) has
    ``trainable``, ``total``, ``percent`` and ``groups`` (each trainable
    group's name and parameter count, in model order), which
    :mod:`adaptformer_mm.experiments` reads instead of the log.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        summary = summarize_parameters(model)
        runner.logger.info('Tunable parameters of the model:\n' +
                           summary.format())
        if is_main_process():
            with open(osp.join(runner.work_dir, SUMMARY_FILE), 'w') as f:
                json.dump(dict(trainable=summary.trainable,
                               total=summary.total,
                               percent=summary.percent,
                               groups=dict(summary.groups)), f, indent=2)
