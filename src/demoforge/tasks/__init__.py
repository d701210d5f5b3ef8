"""Built-in tasks, by name. A task is one module with one ``Task`` subclass."""

from __future__ import annotations

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
from demoforge.tasks.turn_on_stove import TurnOnStove
from demoforge.tasks.two_arm_lift import TwoArmLift
from demoforge.tasks.two_arm_stack import TwoArmStack

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (Stack, Lift, StackThree, Square, Pour, TwoArmStack, TwoArmLift, Handover,
                                                  GR1BoxLift, GR1Handover, GR1PickPlace, GR1Pour, CloseDoor, OpenDrawer,
                                                  PickPlaceSink, PickPlaceCabinet, TurnOnStove)}


def get_task(name: str) -> Task:
    """A fresh task instance by name; unknown names get a clear error listing the known ones."""
    if name not in TASKS:
        raise DemoforgeError(f"unknown task {name!r} (known: {', '.join(sorted(TASKS))})")
    return TASKS[name]()


__all__ = ["TASKS", "Placement", "Subtask", "Task", "get_task"]
