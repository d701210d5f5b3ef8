"""Tasks by reference: built-in names, task files, and ``Task`` subclasses in the user's own code.

A built-in task is one module with one ``Task`` subclass. A task file (TOML, docs/tasks.md) needs no
code; demoforge ships ``stack.toml``, ``stack_three.toml`` and ``lift.toml``, found by file name. A task
in a user's package is named ``my_pkg.my_tasks:PourTea``, or registered under the entry point group
``demoforge.tasks``.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from pathlib import Path

from demoforge.data.hdf5 import env_kwargs_of
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
        what = f"entry point {ref!r} (group {ENTRY_POINT_GROUP}, {found[0].value})"
        try:
            cls = found[0].load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is the user's to fix, named, not a traceback
            raise DemoforgeError(f"{what} does not load: {type(exc).__name__}: {exc}") from None
        return _instance(cls, what)
    shipped = ", ".join(p.name for p in sorted(SHIPPED_TASK_FILES.glob("*.toml")))
    raise DemoforgeError(f"unknown task {ref!r} (built in: {', '.join(sorted(TASKS))}; task files: {shipped} or a path "
                         "to your own; or module:Class naming a Task subclass)")


def _python_task(ref: str) -> Task:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - an import error, a bad name (":Cls", ".mod:Cls"), an error in the module
        raise DemoforgeError(f"task {ref!r}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from None
    try:
        cls = functools.reduce(getattr, attr.split("."), module)  # Outer.Inner, as __qualname__ writes it
    except AttributeError:
        raise DemoforgeError(f"task {ref!r}: module {module_name!r} has no {attr!r}") from None
    return _instance(cls, f"task {ref!r}")


def _instance(cls: object, what: str) -> Task:
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise DemoforgeError(f"{what} is not a subclass of demoforge.tasks.Task")
    try:
        return cls()
    except Exception as exc:  # noqa: BLE001 - the user's class failing to construct
        raise DemoforgeError(f"{what}: {cls.__name__}() failed: {type(exc).__name__}: {exc}") from None


def task_ref(task: Task) -> str:
    """The reference ``get_task`` finds ``task`` by again (stored in datasets' ``env_args``): a shipped task file by
    its name, another by its absolute path."""
    if isinstance(task, FileTask):
        path = task.doc.path.resolve()
        return path.name if path == (SHIPPED_TASK_FILES / path.name).resolve() else str(path)
    if TASKS.get(task.name) is type(task):
        return task.name
    return f"{type(task).__module__}:{type(task).__qualname__}"


def check_task_file_unchanged(env_args: dict, ref: str) -> None:
    """Refuse to judge a dataset by a task file that is no longer the one it was made with (its text is stored)."""
    kwargs = env_kwargs_of(env_args)
    stored = kwargs.get("task_file")
    if not isinstance(stored, str) or not ref.endswith(".toml"):
        return
    task = get_task(ref)
    if isinstance(task, FileTask) and task.text != stored:
        raise DemoforgeError(f"task file {task.doc.path} changed since the dataset was made (its text is stored in "
                             "env_args.env_kwargs.task_file): restore it, or pass --task with the file it was made with")


def task_ref_of(env_args: dict) -> str | None:
    """The task reference a dataset's ``env_args`` records (older files and built-ins: the task's name)."""
    kwargs = env_kwargs_of(env_args)
    ref = kwargs.get("task")
    return ref if isinstance(ref, str) and ref else env_args.get("env_name")


__all__ = ["TASKS", "FileTask", "Placement", "Subtask", "Task", "check_task_file_unchanged", "get_task", "task_ref",
           "task_ref_of"]
