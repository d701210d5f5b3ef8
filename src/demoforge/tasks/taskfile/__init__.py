"""Tasks described in TOML files (docs/tasks.md): the schema, the objects they build, the task they make."""

from demoforge.tasks.taskfile.task import FileTask, load_task_file

__all__ = ["FileTask", "load_task_file"]
