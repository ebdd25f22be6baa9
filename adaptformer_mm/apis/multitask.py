"""One frozen backbone in memory, any number of tasks on top of it.

Each task is a task file (:mod:`adaptformer_mm.peft.task_file`): its model is
built from the config stored in the file (or one given), its trainable
tensors come from the file and its frozen tensors are the backbone's, shared
by every task (``load_state_dict(assign=True)`` puts the same tensors into
every task model; nothing is copied). Adding a task costs its adapters or
prompts and head; the backbone file is read once.

Tasks may use different methods (AdaptFormer, VPT, linear probing) and heads,
as long as they were trained on the same backbone (checked by checksum).
Inputs are prepared by each task's own test pipeline, so a task answers
exactly as its own full model does.

Video and image tasks: a task whose config is an mmpretrain one
(``default_scope='mmpretrain'``, e.g. ``configs/image/``) takes an image file
or a ``(C, H, W)`` tensor (:func:`.inference.image_data`), the others a
video file or clip (:func:`.inference.video_data`).
The tasks of one recognizer share its backbone, so they are all video or all
image tasks in practice (the two ViTs' keys differ; another backbone's task
is refused by checksum).
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Union

from torch import Tensor, nn

from adaptformer_mm.peft.task_file import (TaskFile, load_task_file,
                                           read_task_file)
from .inference import (Prediction, VideoInput, build_test_pipeline,
                        input_data, predict_scores)
from .loading import (ConfigLike, build_model, load_config, read_backbone,
                      test_pipeline_cfg)


@dataclass
class Task:
    """A loaded task: its model (sharing the frozen tensors), class names,
    test pipeline, the file it came from and how its inputs are packed
    (``video_data`` or ``image_data``)."""
    name: str
    model: nn.Module
    classes: List[str]
    pipeline: Callable[[dict], dict]
    task_file: TaskFile
    data: Callable[..., dict]
    # Tasks with equal test-pipeline configs can share one decoded clip.
    pipeline_key: str = ''


class MultiTaskRecognizer:
    """Answer several tasks from one frozen backbone.

    Example::

        mt = MultiTaskRecognizer('vit-b_k400_pretrained.pth')
        mt.add_task('ssv2', 'work_dirs/ssv2/task.pth')
        mt.add_task('hmdb51', 'hmdb51_task.pth')
        mt.predict('clip.mp4', task='ssv2').topk(5)
        mt.predict_all('clip.mp4')   # {'ssv2': Prediction, 'hmdb51': ...}

    Args:
        backbone_checkpoint (str): The pretrained backbone the tasks were
            trained on: a bare backbone state (mmaction2 keys) or a
            recognizer checkpoint (``backbone.*`` keys).
        device (str): Where the backbone and the task models live.
        backbone_prefix (str): Where the backbone sits in a task's model.
    """

    def __init__(self,
                 backbone_checkpoint: str,
                 device: str = 'cpu',
                 backbone_prefix: str = 'backbone.') -> None:
        self.backbone_checkpoint = backbone_checkpoint
        self.device = device
        self._frozen: Dict[str, Tensor] = {
            k: v.to(device)
            for k, v in read_backbone(backbone_checkpoint,
                                      backbone_prefix).items()
        }
        self._tasks: 'OrderedDict[str, Task]' = OrderedDict()

    @property
    def tasks(self) -> List[str]:
        return list(self._tasks)

    def task(self, name: str) -> Task:
        if name not in self._tasks:
            raise KeyError(f'unknown task {name!r}; loaded tasks: '
                           f'{self.tasks or "none"}')
        return self._tasks[name]

    def add_task(self,
                 name: str,
                 task_file: Union[str, TaskFile],
                 config: Optional[ConfigLike] = None,
                 classes: Optional[List[str]] = None) -> Task:
        """Load a task file on top of the shared backbone.

        Args:
            name: how :meth:`predict` refers to the task (must be new).
            task_file: path or :class:`TaskFile`.
            config: the task's config; default: the one stored in the file.
            classes: class names; default: the ones stored in the file.

        Raises:
            BackboneMismatchError: the task was trained on another backbone.
            KeyError: the config's model does not fit the file's tensors.
        """
        if name in self._tasks:
            raise ValueError(f'task {name!r} is already loaded; '
                             'remove_task() it first or choose another name')
        task = read_task_file(task_file) if isinstance(task_file, str) \
            else task_file
        if config is None:
            if not task.config:
                raise ValueError(
                    f'task file {task.path} stores no config; pass config=')
            config = task.config
        cfg = load_config(config)
        model = build_model(cfg, self.device)
        load_task_file(model, task, self._frozen, self.backbone_checkpoint,
                       assign=True)
        model.eval()
        loaded = Task(name=name, model=model,
                      classes=list(classes if classes is not None
                                   else task.classes),
                      pipeline=build_test_pipeline(cfg), task_file=task,
                      data=input_data(cfg),
                      pipeline_key=repr(test_pipeline_cfg(cfg)))
        self._tasks[name] = loaded
        return loaded

    def remove_task(self, name: str) -> None:
        self.task(name)
        del self._tasks[name]

    def predict(self, video: VideoInput, task: str) -> Prediction:
        """Scores of ``task`` for a video file (decoded by the task's test
        pipeline) or a clip tensor ``(C, T, H, W)`` / ``(views, C, T, H, W)``
        in pixel values; for an image task, an image file or a ``(C, H, W)``
        tensor."""
        loaded = self.task(task)
        scores = predict_scores(loaded.model,
                                loaded.data(video, loaded.pipeline))
        return Prediction(scores=scores, classes=loaded.classes, task=task)

    def predict_all(self, video: VideoInput) -> Dict[str, Prediction]:
        """:meth:`predict` for every task; a video file is decoded once per
        distinct test pipeline."""
        decoded: Dict[str, dict] = {}
        out = OrderedDict()
        for name, loaded in self._tasks.items():
            key = loaded.pipeline_key
            if key not in decoded:
                decoded[key] = loaded.data(video, loaded.pipeline)
            # test_step writes its prediction into the data sample: each
            # task gets its own copy.
            data = dict(decoded[key],
                        data_samples=decoded[key]['data_samples'].clone())
            out[name] = Prediction(
                scores=predict_scores(loaded.model, data),
                classes=loaded.classes, task=name)
        return out
