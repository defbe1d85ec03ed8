"""What differs between tasks, in one class per task behind one interface
(`tasks.base.Task`), looked up by name:

- multiclass: one label per text; softmax over labels.
- binary: two labels; one sigmoid unit, the probability of the second (sorted) label.
- multilabel: any number of labels per text; one sigmoid per label, and a decision
  threshold per label tuned on the validation set to maximise that label's F1.
- tagging: one tag per token; a softmax per step; padding carries zero loss weight.

Files keep the task's name (labels.json, metrics.json); code asks `get_task(name)`.
"""

from __future__ import annotations

from typing import Any

from seqcls.errors import ConfigError
from seqcls.tasks.base import Task
from seqcls.tasks.classification import Binary, Multiclass
from seqcls.tasks.multilabel import Multilabel
from seqcls.tasks.tagging import Tagging

TASKS: dict[str, Task] = {
    task.name: task for task in (Multiclass(), Binary(), Multilabel(), Tagging())
}
TASK_NAMES = tuple(TASKS)
# The config's task setting: a task's name, or auto (binary for two labels, else multiclass).
AUTO = "auto"
AUTO_TASKS = ("multiclass", "binary")  # what auto resolves to


def get_task(name: str) -> Task:
    return TASKS[name]


def reading_task(setting: str) -> Task:
    """The task whose label cells the data holds before the labels are known: auto
    reads one label per cell, like multiclass and binary."""
    return TASKS["multiclass"] if setting == AUTO else TASKS[setting]


def resolved_name(setting: str, num_labels: int) -> str:
    """The task a setting trains for this many labels (auto: binary for two labels,
    else multiclass)."""
    if setting != AUTO:
        return setting
    return "binary" if num_labels == 2 else "multiclass"


def resolve_task(setting: str, labels: list[str], train_source: Any) -> str:
    """The task a config trains on these train labels; refuses labels it cannot train."""
    name = resolved_name(setting, len(labels))
    TASKS[name].check_labels(labels, train_source)
    return name


def class_weights(setting: Any, counts: Any, labels: list[str]) -> dict[str, float] | None:
    """Effective loss weight per label, or None when every label weighs 1.

    balanced: n / (number of labels * count of the label in train), so each label
    contributes equally to the loss in total. `counts` is the train split (its label
    cells), or its label counts (a streamed train split is never in memory).
    """
    if setting == "none":
        return None
    if setting == "balanced":
        found = {label: 0 for label in labels}
        if isinstance(counts, dict):
            found.update({label: int(count) for label, count in counts.items()})
        else:
            for label in counts.labels:
                found[label.strip()] += 1
        total = sum(found.values())
        return {
            label: total / (len(labels) * count) if count else 1.0 for label, count in found.items()
        }
    unknown = sorted(set(setting) - set(labels))
    if unknown:
        raise ConfigError(
            f"training.class_weight names label(s) {unknown} that train does not have; "
            f"labels are {labels[:20]}"
        )
    return {label: float(setting.get(label, 1.0)) for label in labels}


__all__ = [
    "AUTO",
    "TASKS",
    "TASK_NAMES",
    "Task",
    "class_weights",
    "get_task",
    "reading_task",
    "resolve_task",
    "resolved_name",
]
