"""Tasks by reference: built-in names, task files, and ``Task`` subclasses in the user's own code.

A built-in task is one module with one ``Task`` subclass. A task file (TOML, docs/tasks.md) needs no
code; demoforge ships ``stack.toml``, ``stack_three.toml`` and ``lift.toml``, found by file name. A task
in a user's package is named ``my_pkg.my_tasks:PourTea``, or registered under the entry point group
``demoforge.tasks``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

from demoforge.errors import DemoforgeError
from demoforge.tasks.base import Placement, Subtask, Task
from demoforge.tasks.close_door import CloseDoor
from demoforge.tasks.gr1_box_lift import GR1BoxLift
from demoforge.tasks.gr1_handover import GR1Handover
from demoforge.tasks.gr1_pick_place import GR1PickPlace
from demoforge.tasks.gr1_pour import GR1Pour
from demoforge.tasks.handover import Handover
from demoforge.tasks.lift import Lift
from demoforge.tasks.open_drawer import OpenDrawer
from demoforge.tasks.pick_place_cabinet import PickPlaceCabinet
from demoforge.tasks.pick_place_sink import PickPlaceSink
from demoforge.tasks.pour import Pour
from demoforge.tasks.square import Square
from demoforge.tasks.stack import Stack
from demoforge.tasks.stack_three import StackThree
from demoforge.tasks.taskfile import FileTask, load_task_file
from demoforge.tasks.turn_on_stove import TurnOnStove
from demoforge.tasks.two_arm_lift import TwoArmLift
from demoforge.tasks.two_arm_stack import TwoArmStack

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (Stack, Lift, StackThree, Square, Pour, TwoArmStack, TwoArmLift, Handover,
                                                  GR1BoxLift, GR1Handover, GR1PickPlace, GR1Pour, CloseDoor, OpenDrawer,
                                                  PickPlaceSink, PickPlaceCabinet, TurnOnStove)}


SHIPPED_TASK_FILES = Path(__file__).parent / "toml"  # task files shipped with demoforge, found by file name
ENTRY_POINT_GROUP = "demoforge.tasks"


def get_task(ref: str) -> Task:
    """A fresh task from its reference: a built-in name (``stack``), a task file (``my_task.toml``; the shipped
    ones by file name), a ``module:Class`` naming a ``Task`` subclass, or an entry point's name."""
    if ref in TASKS:
        return TASKS[ref]()
    if ref.endswith(".toml"):
        path = Path(ref)
        if not path.exists() and path.name == ref and (SHIPPED_TASK_FILES / ref).is_file():
            path = SHIPPED_TASK_FILES / ref
        return load_task_file(path)
    if ":" in ref:
        return _python_task(ref)
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == ref]
    if found:
        return _instance(found[0].load(), f"entry point {ref!r} (group {ENTRY_POINT_GROUP})")
    shipped = ", ".join(p.name for p in sorted(SHIPPED_TASK_FILES.glob("*.toml")))
    raise DemoforgeError(f"unknown task {ref!r} (built in: {', '.join(sorted(TASKS))}; task files: {shipped} or a path "
                         "to your own; or module:Class naming a Task subclass)")


def _python_task(ref: str) -> Task:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DemoforgeError(f"task {ref!r}: cannot import module {module_name!r}: {exc}") from None
    if not hasattr(module, attr):
        raise DemoforgeError(f"task {ref!r}: module {module_name!r} has no {attr!r}")
    return _instance(getattr(module, attr), f"task {ref!r}")


def _instance(cls: object, what: str) -> Task:
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise DemoforgeError(f"{what} is not a subclass of demoforge.tasks.Task")
    return cls()


def task_ref(task: Task) -> str:
    """The reference ``get_task`` finds ``task`` by again (stored in datasets' ``env_args``)."""
    if isinstance(task, FileTask):
        return str(task.doc.path.resolve())
    if TASKS.get(task.name) is type(task):
        return task.name
    return f"{type(task).__module__}:{type(task).__qualname__}"


def task_ref_of(env_args: dict) -> str | None:
    """The task reference a dataset's ``env_args`` records (older files and built-ins: the task's name)."""
    kwargs = env_args.get("env_kwargs") if isinstance(env_args.get("env_kwargs"), dict) else {}
    ref = kwargs.get("task")
    return ref if isinstance(ref, str) and ref else env_args.get("env_name")


__all__ = ["TASKS", "FileTask", "Placement", "Subtask", "Task", "get_task", "task_ref", "task_ref_of"]
