"""Changes to a registered model: one class per action.

Adding an action is writing one class in :mod:`registry_ops.core.changes.actions`:
``Change.from_dict`` finds it by its ``action`` name, the plan schema's list
of actions comes from the same table, the renderers describe a change
through ``describe``, apply executes and verifies it through ``execute`` and
``holds``, and the planner's property tests simulate MLflow through
``simulate``. Importing this package defines every action, so the table is
complete wherever a change is read.
"""

from registry_ops.core.changes.actions import (
    DeleteAlias,
    DeleteModelTag,
    SetAlias,
    SetModelTag,
    TransitionStage,
    UpdateDescription,
)
from registry_ops.core.changes.base import ACTIONS, PROMOTION_STAGES, Change, Writer

__all__ = [
    "ACTIONS",
    "PROMOTION_STAGES",
    "Change",
    "DeleteAlias",
    "DeleteModelTag",
    "SetAlias",
    "SetModelTag",
    "TransitionStage",
    "UpdateDescription",
    "Writer",
]
