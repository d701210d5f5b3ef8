"""``demoforge`` command line: one verb per job, progress for long work, exit code 2 for user mistakes."""

from __future__ import annotations

import enum
import errno
import functools
import inspect
import json
import shutil
import signal
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types
import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from demoforge.errors import (
    EXIT_DISK_FULL, EXIT_INTERRUPTED, EXIT_SHORT, EXIT_TERMINATED, EXIT_USER, DemoforgeError, InputFileError, Terminated,
)
from demoforge.mimic.generate import GenerateConfig
from demoforge.outputs import NOT_WRITABLE, OutputFolder, check_output_file, is_disk_full, write_text
from demoforge.runner.run_folder import RunFolder, RunStats
from demoforge.sim.quality import QUALITIES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="Turn a handful of robot demonstrations into thousands of physically verified ones.",
)
scenes_app = typer.Typer(no_args_is_help=True, help="Scene variation: look at sampled scenes of a family.")
app.add_typer(scenes_app, name="scenes")
export_app = typer.Typer(no_args_is_help=True, help="Export a dataset for other training frameworks.")
app.add_typer(export_app, name="export")
import_app = typer.Typer(no_args_is_help=True, help="Demos recorded elsewhere (robosuite, MimicGen, LeRobot) as source demos.")
app.add_typer(import_app, name="import")
task_app = typer.Typer(no_args_is_help=True, help="Your own tasks: check a task file (docs/tasks.md).")
app.add_typer(task_app, name="task")
assets_app = typer.Typer(help="Model files from registry packages (real robots' meshes, textures): list, install.",
                         invoke_without_command=True)
app.add_typer(assets_app, name="assets")
console = Console(stderr=True)
out_console = Console()
F = TypeVar("F", bound=Callable[..., Any])
# What each kind of folder holds (anything else is the user's, and stops an --overwrite).
DEMO_ENTRIES = ("source.hdf5", "generated", "generated.mp4", "report.html")
RenderQuality = enum.Enum("RenderQuality", [(q, q) for q in QUALITIES], type=str)
QualityOption = Annotated[RenderQuality, typer.Option(
    help="fast: decimated meshes, no shadows (what training cameras see); high: full meshes, shadows, 4x multisampling")]
POLICY_ENTRIES = ("policy.pt", "policy.json", "train.json", "curve.json", "curve.png", "checkpoint.pt",
                  "eval_D0.json", "eval_D1.json", "eval_D2.json")


def _policy_before_markers(folder: Path) -> bool:
    """A policy folder of a version before markers: its policy.json has demoforge's fields."""
    try:
        saved = json.loads((folder / "policy.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and {"obs_keys", "act_mean", "chunk"} <= saved.keys()


def error(message: str) -> None:
    """One line on stderr, never wrapped (a log or a pipe gets the whole message on one line)."""
    console.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def user_errors(fn: F) -> F:
    """Print user mistakes as one clear line and exit with the documented code (errors.py), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)  # unwind like Ctrl-C: keep finished work, remove temp files
        try:
            return fn(*args, **kwargs)
        except DemoforgeError as exc:
            error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            where = f"invalid option {field!r}: " if field else "invalid options: "
            error(f"{where}{first['msg']}")
            raise typer.Exit(EXIT_USER) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Terminated:
            console.print("[yellow]terminated (SIGTERM)[/]")
            raise typer.Exit(EXIT_TERMINATED) from None
        except (OSError, RuntimeError) as exc:
            if is_disk_full(exc):
                where = getattr(exc, "filename", None)
                error(f"the disk is full{f' (writing {where})' if where else ''}; free some space and run the same "
                      "command again (generate and train continue with --resume)")
                raise typer.Exit(EXIT_DISK_FULL) from None
            if isinstance(exc, OSError) and exc.errno in NOT_WRITABLE:
                error(f"{exc.filename or 'output'}: cannot write there ({exc.strerror})")
                raise typer.Exit(EXIT_USER) from None
            raise

    return wrapper  # type: ignore[return-value]


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _load_axes(path: Path | None) -> Any:
    """``SceneAxes`` from a JSON file such as {"lights": 0, "distractors": 2}; errors name the file and field."""
    from demoforge.scenes.spec import SceneAxes

    return SceneAxes() if path is None else _load_model(SceneAxes, path, "scene axes")


def _load_model(model: type[BaseModel], path: Path, what: str) -> Any:
    """A pydantic ``model`` from a JSON file; errors name the file and the field."""
    from demoforge.errors import InputFileError

    try:
        return model.model_validate_json(path.read_text())
    except OSError as exc:
        raise InputFileError(path, f"cannot read {what} ({exc.strerror})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputFileError(path, first["msg"], field=".".join(str(p) for p in first["loc"]) or None) from None


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DemoforgeError(f"--size expects WIDTHxHEIGHT, got {text!r}") from None
    if width < 16 or height < 16:
        raise DemoforgeError(f"--size {text!r} is too small (at least 16x16)")
    return width, height


def is_dataset_file(path: Path) -> bool:
    from demoforge.data.hdf5 import is_dataset_file as check

    return check(path)


def _workers(requested: int | None, jobs: int, per_worker_bytes: int, noun: str) -> int:
    """Workers for ``jobs``: capped by the jobs, memory and CPUs (runner.pool.plan_workers), said when reduced."""
    from demoforge.runner.pool import plan_workers

    workers, why = plan_workers(requested, jobs, per_worker_bytes, noun=noun)
    if why:
        console.print(f"[yellow]{escape(why)}[/]", soft_wrap=True)
    return workers


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class ConfigOptions:
    """Command-line options made from a pydantic config's fields, so a command cannot drift from the Python API.

    Each field is ``--field-name`` with the field's type, default, bounds and description (as the help):
    a bool is ``--x/--no-x``, a ``Literal`` a choice, a list of text comma-separated text, a tuple of
    integers ``"10,20"``, a nested model a JSON file, a field in ``paths`` a path. ``aliases`` keep older
    names of options working; ``defaults`` give the command line a default for fields the config requires.
    """

    def __init__(self, model: type[BaseModel], *, aliases: dict[str, tuple[str, ...]] | None = None,
                 defaults: dict[str, Any] | None = None, paths: tuple[str, ...] = ()) -> None:
        self.model, self.aliases, self.defaults, self.paths = model, aliases or {}, defaults or {}, paths
        self.converters: dict[str, Callable[[Any], Any]] = {}
        self.nullable = {name for name, info in model.model_fields.items() if _without_none(info.annotation)[1]}
        self.parameters = [self._parameter(name, info) for name, info in model.model_fields.items()]

    def names(self, field: str) -> tuple[str, ...]:
        """The option's names: ``--field-name`` first, then its aliases."""
        return ("--" + field.replace("_", "-"), *self.aliases.get(field, ()))

    def expand(self, fn: F) -> F:
        """Give ``fn`` one option per field in place of its ``**`` parameter (typer reads ``__signature__``)."""
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(fn, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
        fn.__signature__ = inspect.Signature([*self.parameters, *own], return_annotation=None)  # type: ignore[attr-defined]
        return fn

    def config(self, values: dict[str, Any]) -> Any:
        """The config from the options' values; a refused value names its option."""
        fields = {}
        for name, value in values.items():
            value = self.converters[name](value)
            if value is not None or name in self.nullable:  # else the field's default (a nested model's)
                fields[name] = value
        try:
            return self.model(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            if field not in self.converters:
                raise
            raise DemoforgeError(f"invalid value for {' / '.join(self.names(field))}: {first['msg']}") from None

    def _parameter(self, name: str, info: FieldInfo) -> inspect.Parameter:
        kind, optional = _without_none(info.annotation)
        default = self.defaults[name] if name in self.defaults else (
            None if info.is_required() else info.get_default(call_default_factory=True))
        names, text, extra = self.names(name), info.description or "", {}
        convert: Callable[[Any], Any] = lambda value: value  # noqa: E731
        for bound in info.metadata if kind is int else ():  # a float's bounds: pydantic's (NaN is "not finite")
            if isinstance(bound, annotated_types.Ge):
                extra["min"] = bound.ge
            elif isinstance(bound, annotated_types.Le):
                extra["max"] = bound.le
        if name in self.paths:
            kind, default = Path, None if default is None else Path(default)
            convert = lambda value: None if value is None else str(value)  # noqa: E731
        elif kind is bool:
            names = (f"{names[0]}/--no-{names[0][2:]}", *names[1:])
        elif kind in (int, float, str):
            pass
        elif get_origin(kind) is Literal:
            choices = enum.Enum(name.title().replace("_", ""), [(str(v), v) for v in get_args(kind)], type=str)
            kind, default = choices, choices(default)
            convert = lambda value: value.value  # noqa: E731
        elif get_origin(kind) is list and get_args(kind) == (str,):
            kind, default, text = str, ",".join(default), f"{text} (comma separated)"
            convert = _split
        elif get_origin(kind) is tuple and set(get_args(kind)) == {int}:
            count = len(get_args(kind))
            kind, default, extra["metavar"] = str, ",".join(map(str, default)), ",".join(["INT"] * count)
            convert = functools.partial(_parse_ints, count=count, option=" / ".join(names))
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            model, what = kind, name.replace("_", " ")
            kind, default, optional, text = Path, None, True, f"{text}: a JSON file of {model.__name__} (docs/formats.md)"
            convert = lambda path: None if path is None else _load_model(model, path, what)  # noqa: E731
        else:
            raise TypeError(f"{self.model.__name__}.{name}: no command-line option for the type {info.annotation}")
        self.converters[name] = convert
        annotation = Annotated[kind | None if optional else kind, typer.Option(*names, help=text, **extra)]  # type: ignore[operator]
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """``int | None`` -> (int, True); ``int`` -> (int, False)."""
    if get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Union[tuple(rest)]), True
    return annotation, False


def _parse_ints(text: str, count: int, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        example = ",".join(str(10 * (i + 1)) for i in range(count))
        raise DemoforgeError(f"{option} expects {count} integers separated by commas (e.g. {example}), got {text!r}")
    return values


# generate's options are GenerateConfig's fields; --offset and --noise are their names from before
GENERATE_OPTIONS = ConfigOptions(
    GenerateConfig,
    aliases={"boundary_offset": ("--offset",), "action_noise": ("--noise",)},
    defaults={"task": "stack", "source": "src.hdf5"},
    paths=("source", "annotations"),
)


# ---- verbs ------------------------------------------------------------------------------------------
@app.command()
@user_errors
def tasks() -> None:
    """List the tasks: built-in ones, the task files shipped with demoforge, and entry points of installed packages."""
    from importlib.metadata import entry_points

    from demoforge.tasks import ENTRY_POINT_GROUP, SHIPPED_TASK_FILES, TASKS, get_task
    from demoforge.tasks.taskfile import load_task_file

    table = Table(title="demoforge tasks (--task NAME)")
    for col in ("task", "objects", "subtasks (reference object)", "variations"):
        table.add_column(col)
    found = [(name, cls()) for name, cls in sorted(TASKS.items())]
    found += [(path.name, load_task_file(path)) for path in sorted(SHIPPED_TASK_FILES.glob("*.toml"))]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append((ep.name, get_task(ep.name)))
        except DemoforgeError as exc:  # one broken plugin does not hide the others
            console.print(f"[yellow]entry point {ep.name!r}: {escape(str(exc))}[/]")
    for name, task in found:
        subs = ", ".join(f"{s.name} ({s.object})" for s in task.subtasks)
        table.add_row(name, ", ".join(task.objects), subs, ", ".join(task.variations))
    out_console.print(table)


@task_app.command("check")
@user_errors
def task_check(
    file: Annotated[str, typer.Argument(help="task file (my_task.toml), or any --task reference")],
    robot: Annotated[str | None, typer.Option(help="build with this robot (default: the task's)")] = None,
    resets: Annotated[int, typer.Option(min=1, help="starts drawn per variation")] = 20,
) -> None:
    """Validate a task, build its world and reset it in every variation; print its objects, subtasks and
    variations. Any mistake exits with code 2, naming the file's line and key."""
    import numpy as np

    from demoforge.rollout.task_check import check_task

    found = check_task(file, robot, resets)
    task = found.task
    out_console.print(f"[bold]{task.name}[/]: {task.description or '(no description)'}", highlight=False)
    out_console.print(f"world: robot {found.robot}, {found.bodies} bodies, {found.dof} degrees of freedom; "
                      f"{task.max_steps} control steps at most; success held for {task.success_hold_steps}",
                      highlight=False)
    objects = Table(title="objects")
    for col in ("object", "symmetry", "scenes may resize it as"):
        objects.add_column(col)
    for name in task.objects:
        order = task.symmetry.get(name, 1)
        objects.add_row(name, "any yaw" if order == 0 else f"{order}-fold", task.scalable.get(name, "-"))
    out_console.print(objects)
    subtasks = Table(title="subtasks")
    for col in ("arm", "subtask", "reference", "held", "ends on signal"):
        subtasks.add_column(col)
    for s in task.subtasks:
        subtasks.add_row(str(s.arm), s.name, s.object or "world", s.held or "-", s.signal or "(the episode's end)")
    out_console.print(subtasks)
    variations = Table(title=f"variations ({resets} starts drawn in each)")
    for col in ("variation", "object", "x (m)", "y (m)", "yaw (deg)", "starts overlapping", "solved at start"):
        variations.add_column(col)
    for v in found.variations:
        for i, (name, p) in enumerate(task.variations[v.name].items()):
            counts = (f"{v.overlapping}/{v.resets}", f"{v.success_at_start}/{v.resets}") if i == 0 else ("", "")
            variations.add_row(v.name if i == 0 else "", name, f"{p.x[0]:g}..{p.x[1]:g}", f"{p.y[0]:g}..{p.y[1]:g}",
                               f"{np.degrees(p.yaw[0]):g}..{np.degrees(p.yaw[1]):g}", *counts)
    out_console.print(variations)
    has_expert = task.has_expert
    out_console.print(f"ok: {task.name} builds and resets in {len(found.variations)} variation{'s' * (len(found.variations) != 1)}; "
                      + ("an expert can record sources (demoforge source)" if has_expert else
                         "no expert: give sources by teleop or import"), highlight=False)


@assets_app.callback()
@user_errors
def assets(ctx: typer.Context) -> None:
    """List the asset packs, where they are and whether they are installed."""
    if ctx.invoked_subcommand is not None:
        return
    from demoforge.assetpacks import PACKS, installed

    for pack in PACKS.values():
        state = "installed" if installed(pack) else "not installed (demoforge assets install)"
        out_console.print(f"[bold]{pack.name}[/] ({pack.requirement}, {pack.licence_name}): {pack.folder}: {state}",
                          soft_wrap=True, highlight=False)


@assets_app.command("install")
@user_errors
def assets_install(
    wheel: Annotated[list[Path] | None, typer.Option(
        help="a pinned wheel downloaded elsewhere, by its file name (repeat for each pack; default: fetch with pip)")] = None,
    force: Annotated[bool, typer.Option(help="unpack again even if installed")] = False,
    verify: Annotated[bool, typer.Option(help="check every installed file against the pack's manifest")] = False,
) -> None:
    """Fetch, check (SHA-256) and unpack the asset packs; `make setup` runs this."""
    from demoforge.assetpacks import PACKS, check, current, install, installed

    wheels = {path.name: path for path in wheel or ()}
    for path in wheels.values():
        if not path.is_file():
            raise InputFileError(path, "no such file")
        if path.name not in {p.wheel for p in PACKS.values()}:
            raise InputFileError(path, f"is no pack's wheel (expected {', '.join(p.wheel for p in PACKS.values())})")
    for pack in PACKS.values():
        was = installed(pack)
        up_to_date = was and current(pack)
        folder = install(pack, wheel=wheels.get(pack.wheel), force=force)
        if verify:
            changed = check(pack)
            if changed:
                raise DemoforgeError(f"{folder}: {len(changed)} files differ from the manifest (first: {changed[0]}); "
                                     "reinstall with `demoforge assets install --force`")
        verb = "already installed" if up_to_date and not force else "updated" if was and not force else "installed"
        out_console.print(f"{pack.name}: {verb} in {folder}", soft_wrap=True, highlight=False)


@app.command()
@user_errors
def robots(
    check: Annotated[str | None, typer.Option(
        help="build this robot (a robot file, or a built-in name), move each end-effector to targets around its home "
        "pose and report the tracking error; exit code 1 if it tracks badly")] = None,
) -> None:
    """List the built-in robots: their arms, end-effectors, action layout and the cameras they carry."""
    from demoforge.sim.robot import BUILTIN_ROBOTS, load_robot

    if check is not None:
        _print_tracking(load_robot(check))
        return
    for name, robot in sorted(BUILTIN_ROBOTS.items()):
        body = f"{robot.body} body (upper body on a pedestal), " if robot.body else ""
        extra = "".join(f", {alias} camera (--cameras {alias})" for alias in robot.cameras)
        out_console.print(f"[bold]{name}[/]: {body}{len(robot.arms)} arm(s) of {len(robot.arms[0].arm_joints)} joints, "
                          f"{robot.action_dim}-D action{extra}", soft_wrap=True, highlight=False)
        for arm, part in zip(robot.arms, robot.action_layout()):
            pose, eef = part["pose"], part["eef"]
            cameras = ", ".join(f"{arm.names_prefix}{c}" for c in arm.cameras)
            kind = arm.eef_kind.replace("_", " ")
            if arm.eef_kind == "dexterous_hand":
                kind += f" with {arm.eef_dim} actuators ({', '.join(arm.eef_names)})"
            out_console.print(
                f"  {arm.name} ({arm.prefix}): {kind}; action columns {pose[0]}-{pose[1] - 1} "
                f"delta pose, {eef[0]}{f'-{eef[1] - 1}' if eef[1] - eef[0] > 1 else ''} end-effector; "
                f"camera {cameras or 'none'}" + (f" (--cameras {arm.name}_wrist)" if cameras else ""),
                soft_wrap=True, highlight=False,
            )


def _print_tracking(robot: object) -> None:
    from demoforge.errors import EXIT_MISMATCH
    from demoforge.sim.robot_check import GOOD_DEG, GOOD_MM, HOLD_S, check_tracking

    with console.status(f"checking {robot.name}"):
        targets, grips = check_tracking(robot)
    table = Table(title=f"{robot.name}: tracking of targets around home, each held {HOLD_S:g} s")
    for col in ("arm", "target", "error (mm)", "error (deg)", f"within {GOOD_MM:g} mm and {GOOD_DEG:g} deg after", ""):
        table.add_column(col)
    for r in targets:
        settle = f"{r.settle_s:.2f} s" if r.settle_s is not None else "never"
        table.add_row(r.arm, r.target, f"{r.error_mm:.2f}", f"{r.error_deg:.2f}", settle, "ok" if r.ok else "[red]poor[/]")
    out_console.print(table)
    for g in grips:
        if g.travel is None:
            out_console.print(f"{g.arm}: fingers not measured (the arm names no gripper_joints)", highlight=False)
            continue
        out_console.print(f"{g.arm}: fingers travel {g.travel:.3g} from open to closed: "
                          + ("ok" if g.ok else "[red]they do not move[/]"), highlight=False)
    bad = [f"{r.arm} {r.target}" for r in targets if not r.ok] + [f"{g.arm} fingers" for g in grips if not g.ok]
    if bad:
        error(f"{robot.name}: the controller does not reach {', '.join(bad)}; check the arm's actuators (position "
              "servos with enough gain and force), joint ranges, home_qpos and ik_joint_cost before generating")
        raise typer.Exit(EXIT_MISMATCH)
    out_console.print(f"ok: demoforge's controller tracks {robot.name} (every target within {GOOD_MM:g} mm and "
                      f"{GOOD_DEG:g} deg)", highlight=False)


@app.command()
@user_errors
def objects(
    sheet: Annotated[Path | None, typer.Option(help="also render a contact sheet of every instance to this PNG")] = None,
    size: Annotated[int, typer.Option(min=32, max=640, help="tile size of --sheet, pixels")] = 160,
    quality: QualityOption = RenderQuality.fast,
    overwrite: Annotated[bool, typer.Option(help="replace --sheet if it exists")] = False,
) -> None:
    """Object categories and their instances, with size, symmetry and source."""
    from demoforge.scenes.catalogue import CATEGORIES, CATALOGUE

    if sheet is not None:
        check_output_file(sheet, overwrite, suffixes=(".png",))
    table = Table(title="objects by category")
    for col in ("category", "instance", "size (cm)", "yaw symmetry", "source"):
        table.add_column(col)
    for category, names in CATEGORIES.items():
        for name in names:
            model = CATALOGUE[name]
            extent = " x ".join(f"{200 * h:.1f}" for h in model.half_size)
            symmetry = {0: "any", 1: "none"}.get(model.symmetry, f"{model.symmetry}-fold")
            table.add_row(category, name, extent, symmetry, model.source)
    out_console.print(table)
    if sheet is not None:
        import imageio.v2 as imageio

        from demoforge.outputs import atomic_file
        from demoforge.render.object_sheet import object_sheet

        with console.status("rendering the objects"), atomic_file(sheet) as tmp:
            imageio.imwrite(tmp, object_sheet(size, quality.value), format="png")
        console.print(f"wrote {sheet} ({len(CATALOGUE)} objects in {len(CATEGORIES)} categories)")


@app.command()
@user_errors
def source(
    task: Annotated[str, typer.Option(help="task name (see `demoforge tasks`)")] = "stack",
    num: Annotated[int, typer.Option(min=1, help="successful demos to record")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    variation: Annotated[str, typer.Option(help="reset distribution the demos start from")] = "D0",
    out: Annotated[Path, typer.Option(help="output HDF5 file")] = Path("src.hdf5"),
    robot: Annotated[str | None, typer.Option(
        help="built-in robot name or robot config file (default: the task's robot)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
) -> None:
    """Record source demos with the task's scripted, human-like expert."""
    from demoforge.capture.scripted import record_sources

    check_output_file(out, overwrite, ours=is_dataset_file)

    with _progress() as progress:
        bar = progress.add_task(f"recording {task}", total=num, info="")

        def on_demo(demo: Any, kept: int) -> None:
            progress.update(bar, completed=kept, info=f"{len(demo)} steps {'ok' if demo.success else 'discarded'}")

        path, tries = record_sources(
            task, num, out, seed=seed, variation=variation, robot=robot, on_demo=on_demo, overwrite=overwrite
        )
    console.print(f"wrote {num} source demos to [bold]{path}[/] ({tries} expert runs, {tries - num} discarded)")


@app.command()
@user_errors
def teleop(
    task: Annotated[str | None, typer.Option(help="task name (default: stack; with --replay-input, the log's)")] = None,
    out: Annotated[Path, typer.Option(help="HDF5 file the kept demos are appended to")] = Path("src.hdf5"),
    robot: Annotated[str | None, typer.Option(
        help="built-in robot name or robot config file (default: the task's robot)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="placements: demo i starts from a sample drawn with (seed, i)")] = 0,
    variation: Annotated[str, typer.Option(help="reset distribution the demos start from")] = "D0",
    host: Annotated[str | None, typer.Option(
        help="address to listen on (default: 127.0.0.1; with --https, every address so a headset can connect)")] = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on (0: any free port)")] = 8765,
    https: Annotated[bool, typer.Option(
        help="serve over HTTPS with a self-signed certificate (WebXR on a headset needs it)")] = False,
    session_log: Annotated[Path | None, typer.Option(
        "--session", help="where to save the input stream (default: beside --out, OUT.session.jsonl)")] = None,
    replay_input: Annotated[Path | None, typer.Option(
        help="drive the session from a saved input stream instead of a browser (no server)")] = None,
    append: Annotated[bool, typer.Option(help="add demos to an existing --out of the same task and robot")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace --out (once the first new demo is kept)")] = False,
    time_limit: Annotated[float, typer.Option(
        min=1.0, help="seconds a demo may last; a longer one is discarded as too long")] = 60.0,
) -> None:
    """Record source demos by hand in the browser: keyboard, gamepad, or a headset's hands (WebXR)."""
    from demoforge.capture.teleop.session import TeleopSession, replay_log

    if append and overwrite:
        raise DemoforgeError("--append and --overwrite exclude each other: add to --out, or replace it")
    existing = "append" if append else "replace" if overwrite else "refuse"
    if out.exists() and not append:
        check_output_file(out, overwrite, ours=is_dataset_file)
    if replay_input is not None:
        def on_outcome(o: Any) -> None:
            verdict = "kept" if o.kept else f"discarded ({o.reason})"
            console.print(f"demo {o.episode}: {o.steps} steps, {verdict}", highlight=False)

        session = replay_log(replay_input, out, task=task, robot=robot, existing=existing, on_outcome=on_outcome)
        console.print(f"{session.kept} demos in [bold]{out}[/] ({session.discarded} discarded)")
        return
    log = session_log or _free_log_path(out)
    session = TeleopSession(task or "stack", out, robot=robot, seed=seed, variation=variation, log=log,
                            existing=existing, time_limit=time_limit)
    _serve_teleop(session, host, port, https, log)


def _free_log_path(out: Path) -> Path:
    """``OUT.session.jsonl``, or ``OUT.session-2.jsonl`` ... when that exists (a log is never overwritten)."""
    path, n = out.with_name(out.stem + ".session.jsonl"), 1
    while path.exists():
        n += 1
        path = out.with_name(f"{out.stem}.session-{n}.jsonl")
    return path


def _serve_teleop(session: Any, host: str | None, port: int, https: bool, log: Path) -> None:
    import asyncio
    import errno

    from demoforge.capture.teleop.server import TeleopServer
    from demoforge.capture.teleop.tls import certificate, lan_address, qr_text, server_context

    context, shown = None, "localhost"
    if https:
        shown = lan_address()
        context = server_context(*certificate(shown))
    server = TeleopServer(session, host or ("0.0.0.0" if https else "127.0.0.1"), port, context)

    def ready(srv: Any) -> None:
        url = f"{'https' if https else 'http'}://{shown}:{srv.port}"
        out_console.print(f"teleop {session.task.name} on {session.world.env.robot.name}: open [bold]{url}[/]",
                          soft_wrap=True)
        if https:
            out_console.print(qr_text(url), highlight=False)
            out_console.print("the certificate is self-signed: accept it once in the headset's browser", soft_wrap=True)
        console.print(f"kept demos go to {session.out}; input stream: {log}; Ctrl-C ends the session", soft_wrap=True)

    try:
        asyncio.run(server.serve(on_ready=ready))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DemoforgeError(f"port {port} is in use (another teleop?); pass --port with another number") from None
        raise
    console.print(f"{session.kept} demos in [bold]{session.out}[/] ({session.discarded} discarded)")


@app.command()
@user_errors
def annotate(
    file: Annotated[Path, typer.Argument(help="source HDF5 file")],
    task: Annotated[str, typer.Option(help="task the demos perform")] = "stack",
    annotations: Annotated[Path | None, typer.Option(help='JSON {"demo_0": [end of subtask 1, ...]} overriding signals '
                                                       "(with --ui: the file to start from and save to)")] = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of updating FILE in place")] = None,
    robot: Annotated[str | None, typer.Option(help="robot config file (default: the robot the file names)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
    ui: Annotated[bool, typer.Option(
        help="drag the subtask boundaries on a timeline in the browser and save an annotation file "
             "(--annotations, default FILE's stem + .annotations.json); FILE is not changed")] = False,
    host: Annotated[str, typer.Option(help="with --ui: address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="with --ui: port to listen on (0: any free port)")] = 8766,
) -> None:
    """Write per-step datagen_info (poses, gripper, subtask signals) into a source file, or (--ui) set the subtask
    boundaries in the browser."""
    from demoforge.capture.annotate import annotate_file

    if ui:
        if out is not None or overwrite:
            raise DemoforgeError("--out and --overwrite do not go with --ui, which writes only an annotation file; "
                                 "apply it afterwards with `demoforge annotate FILE --annotations ANN.json --out ...`")
        _serve_annotate(file, task, annotations, robot, host, port)
        return
    check_output_file(out if out is not None else file, overwrite, replaces_input=out is None, ours=is_dataset_file)
    path, boundaries = annotate_file(file, task, annotations, out, robot, replace=overwrite)
    table = Table(title=f"subtask boundaries in {path}")
    table.add_column("demo")
    table.add_column("subtask ends (step)")
    for i, bounds in enumerate(boundaries):
        table.add_row(f"demo_{i}", ", ".join(map(str, bounds)))
    out_console.print(table)


def _serve_annotate(file: Path, task: str, annotations: Path | None, robot: str | None, host: str, port: int) -> None:
    import asyncio

    from demoforge.capture.annotate_ui.server import AnnotateServer
    from demoforge.capture.annotate_ui.session import AnnotationSession

    with console.status(f"reading {file}") as status:
        def on_demo(done: int, total: int) -> None:
            status.update(f"subtask boundaries from the stored states: demo {done} of {total}")

        session = AnnotationSession(file, task, annotations, robot, on_demo=on_demo)
    server = AnnotateServer(session, host, port)

    def ready(srv: Any) -> None:
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
        n = len(session.demos)
        out_console.print(f"annotate {n} demo{'s' * (n != 1)} of {file} ({session.task.name}): open "
                          f"[bold]http://{shown}:{srv.port}[/]", soft_wrap=True)
        start = ", starting from it" if session.started_from else ""
        console.print(f"Save writes {session.out}{start}; Ctrl-C ends", soft_wrap=True, highlight=False)

    try:
        asyncio.run(server.serve(on_ready=ready))
    except OSError as exc:  # the listening socket: a port in use, an address not on this machine
        if exc.errno == errno.EADDRINUSE:
            raise DemoforgeError(f"port {port} is in use; pass --port with another number (0: any free port)") from None
        raise DemoforgeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); check --host and --port") from None
    saved = [b.name for b in session.bounds.values() if b.saved]
    if session.started_from is None:
        console.print("nothing saved")
        return
    console.print(f"{session.out} holds boundaries for {len(saved)} demo{'s' * (len(saved) != 1)}; apply them with",
                  highlight=False)
    out_console.print(session.commands()[0], soft_wrap=True, highlight=False, markup=False)


@app.command()
@user_errors
@GENERATE_OPTIONS.expand
def generate(
    out: Annotated[Path, typer.Option(help="output run folder")] = Path("runs/generated"),
    workers: Annotated[int | None, typer.Option(min=1, help="worker processes (default: all cores)")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run in --out (same options)")] = False,
    executor: Annotated[str, typer.Option(help="local (processes on this machine) or ray (a Ray cluster)")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (e.g. auto); default: start Ray here")] = None,
    overwrite: Annotated[bool, typer.Option(
        help="replace a previous run in --out (only a run folder; the old one stays until the new one is complete)")] = False,
    **config: Any,
) -> None:
    """Generate new demos from source demos (MimicGen-style) and keep only the successful ones.

    Exit codes: 0 all demos made, 3 stopped at --max-attempts with fewer (kept), 2 bad input, 4 disk full.
    """
    cfg = GENERATE_OPTIONS.config(config)
    if resume and overwrite:
        raise DemoforgeError("--resume and --overwrite contradict each other; pick one")
    stats = _run_generation(cfg, out, workers, resume, executor, address, overwrite)
    _print_summary(stats, out)
    _exit_if_short(stats, cfg.num_demos, out)


def _exit_if_short(stats: RunStats, wanted: int, out: Path) -> None:
    """Fewer demos than asked is not success: say so and exit 3 (what was made is kept)."""
    if stats.successes < wanted:
        console.print(
            f"[bold yellow]only {stats.successes} of {wanted} demos[/] after {stats.attempts} attempts "
            f"(the attempt limit); they are in {RunFolder(out).demos}. Raise --max-attempts and rerun with --overwrite "
            "for more", soft_wrap=True,
        )
        raise typer.Exit(EXIT_SHORT)


def _run_generation(
    cfg: Any, out: Path, workers: int | None = None, resume: bool = False, executor: str = "local",
    address: str | None = None, overwrite: bool = False,
) -> RunStats:
    from demoforge.outputs import holder, staging_path
    from demoforge.runner.local import RunProgress, generate as run, has_finished_attempts
    from demoforge.runner.executors import generation_worker_bytes

    if executor == "local":
        workers = _workers(workers, cfg.attempt_limit, generation_worker_bytes(cfg), "attempts")
    where = f"{workers} workers" if workers else "Ray cluster"
    progress = _progress()  # started by the first finished attempt: a refused input prints no empty bar
    bar = progress.add_task(f"generating {cfg.task} ({cfg.variation}, {where})", total=cfg.num_demos, info="")

    def on_attempt(summary: Any, done: RunProgress) -> None:
        if not progress.live.is_started:
            progress.start()
        dgr = done.successes / done.attempts
        progress.update(bar, completed=min(done.successes, cfg.num_demos), info=f"{done.attempts} attempts, DGR {dgr:.0%}")

    try:
        return run(cfg, out, on_attempt, workers=workers, resume=resume, executor=executor, address=address,
                   overwrite=overwrite)
    except BaseException:
        progress.stop()
        for work in (out, staging_path(out)):
            if has_finished_attempts(work) and holder(work) is None:
                unchanged = f" (the run in {out} stays as it was until this one completes)" if work != out else ""
                console.print(f"[yellow]finished attempts are kept in {work}{unchanged}; continue with the same "
                              f"command and --resume{' instead of --overwrite' if overwrite else ''}[/]", soft_wrap=True)
        raise
    finally:
        progress.stop()


def _print_summary(stats: RunStats, out: Path) -> None:
    title = f"{stats.task} ({stats.variation}, scenes: {stats.scene_family or 'default'})"
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("attempts", str(stats.attempts))
    table.add_row("successes", str(stats.successes))
    table.add_row("data generation rate", f"{stats.dgr:.1%}")
    table.add_row("wall time", f"{stats.wall_time_s or 0.0:.1f} s")
    table.add_row("attempts / s", f"{stats.attempts_per_s:.2f}")
    table.add_row("physics steps", f"{stats.physics_steps:,}")
    if stats.crashed:
        table.add_row("worker crashes (attempts lost)", str(stats.crashed))
    if stats.scenes_rejected:
        table.add_row("scenes rejected at sampling", str(stats.scenes_rejected))
    for reason, count in stats.failures.items():
        table.add_row(f"failed: {reason}", str(count))
    out_console.print(table)
    run = RunFolder(out)
    console.print(f"dataset: [bold]{run.demos}[/]  stats: {run.stats}")


@app.command()
@user_errors
def replay(
    file: Annotated[Path, typer.Argument(help="demos HDF5 file")],
    demo: Annotated[int | None, typer.Option(help="demo index (default: all for --check, 0 for --video)")] = None,
    video: Annotated[Path | None, typer.Option(help="render the demo to this .mp4")] = None,
    camera: Annotated[str, typer.Option(help="camera name")] = "agentview",
    size: Annotated[str, typer.Option(help="video size WIDTHxHEIGHT")] = "640x480",
    check: Annotated[bool, typer.Option(
        help="re-simulate and compare every stored array the states and actions determine (exit 1 if any differ)")] = False,
    task: Annotated[str | None, typer.Option(help="task (default: from the file's env_args)")] = None,
    robot: Annotated[str | None, typer.Option(help="robot config file (default: the robot the file names)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --video if it exists")] = False,
    quality: QualityOption = RenderQuality.fast,
) -> None:
    """Render a demo to video and/or check that demos reproduce from their first state and actions."""
    from demoforge.data.hdf5 import read_demos, read_env_args
    from demoforge.data.video import write_video
    from demoforge.rollout.replay import check_demo, describe, describe_skipped, render_frames, stored_arrays
    from demoforge.runner.local import check_source_task
    from demoforge.capture.imports.common import imported_format
    from demoforge.tasks import check_task_file_unchanged, get_task, task_ref_of

    if video is None and not check:
        raise DemoforgeError("nothing to do: pass --video OUT.mp4 and/or --check")
    if video is not None:
        from demoforge.data.video import VIDEO_SUFFIXES

        check_output_file(video, overwrite, option="--video", suffixes=VIDEO_SUFFIXES)
    if task:
        get_task(task)  # an unknown name first, then demos of another task: one clear line, not a KeyError
        check_source_task(file, task)
    task = task or task_ref_of(read_env_args(file))
    if not task:
        raise DemoforgeError(f"{file}: env_args has no env_name; pass --task")
    check_task_file_unchanged(read_env_args(file), task)
    imported = imported_format(read_env_args(file))
    if imported and (check or imported == "robomimic"):
        raise DemoforgeError(f"{file}: demos imported from {imported} were not made by demoforge's simulation, so "
                             "they do not re-simulate" + (" or render here (their states are robosuite's)"
                                                          if imported == "robomimic" else "; render them without --check"))
    names = None if demo is None else [f"demo_{demo}"]
    demos = read_demos(file, require_datagen=False, names=names)
    bad: list[str] = []
    if check:  # before the video, so a task mismatch stops before any output
        checked: set[str] = set()
        skipped: dict[str, str] = {}
        largest, largest_key = 0.0, ""
        table = Table(title=f"replay check: {file}")
        for col in ("demo", "steps", "arrays compared", "max error", "first mismatch", "success stored / replayed", "ok"):
            table.add_column(col)
        with _progress() as progress:
            bar = progress.add_task("re-simulating", total=len(demos), info="")
            for d in demos:
                result = check_demo(d, task, robot, stored_arrays(file, d.meta["name"]))
                checked.update(a.key for a in result.arrays)
                skipped.update(result.not_checked)
                worst = max(result.arrays, key=lambda a: a.max_error, default=None)
                if worst is not None and worst.max_error > largest:
                    largest, largest_key = worst.max_error, worst.key
                first = result.first_mismatch
                where = f"{first.key} from step {first.first_step}" if first else ""
                if not result.ok:
                    bad.append(f"{result.name} ({where or 'success differs'})")
                table.add_row(
                    result.name, str(result.steps), str(len(result.arrays)),
                    f"{worst.max_error:.1e} ({worst.key})" if worst and worst.max_error > 0 else "0", where or "-",
                    f"{result.stored_success} / {result.replayed_success}", "yes" if result.ok else "[red]NO[/]",
                )
                progress.advance(bar)
        out_console.print(table)
        what = describe(checked) + (f"; not checked: {describe_skipped(skipped)}" if describe_skipped(skipped) else "")
        if bad:
            console.print(f"[bold red]{len(bad)} of {len(demos)} demos do not reproduce:[/] {escape(', '.join(bad))}")
            console.print(f"compared: {escape(what)}")
        else:
            how = "exactly" if largest == 0 else f"within tolerance (largest error {largest:.1e} in {largest_key})"
            console.print(f"all {len(demos)} demos reproduce {how}: {escape(what)}")
    if video is not None:
        width, height = _parse_size(size)
        write_video(video, render_frames(demos[0], robot, camera, width, height, quality.value))
        console.print(f"wrote {video} ({len(demos[0])} frames of {demos[0].meta['name']})")
    if bad:
        raise typer.Exit(1)


@app.command()
@user_errors
def render(
    file: Annotated[Path, typer.Argument(help="demos HDF5 file (e.g. runs/x/demos.hdf5)")],
    cameras: Annotated[str, typer.Option(help="cameras to render, e.g. agentview,wrist")] = "agentview",
    image_size: Annotated[int, typer.Option(min=8, max=1024, help="square image size, pixels")] = 84,
    depth: Annotated[bool, typer.Option(help="also render obs/<camera>_depth (metres)")] = False,
    segmentation: Annotated[bool, typer.Option(help="also render obs/<camera>_segmentation_instance")] = False,
    out: Annotated[Path | None, typer.Option(help="write here instead of updating FILE in place")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")] = None,
    robot: Annotated[str | None, typer.Option(help="robot config file (default: the robot the file names)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
) -> None:
    """Add camera observations to a dataset from its stored states (atomic; other content unchanged)."""
    from demoforge.data.hdf5 import demo_names, open_dataset
    from demoforge.render.observations import add_observations
    from demoforge.runner.pool import render_worker_bytes
    from demoforge.sim.render import frame_bytes

    with open_dataset(file) as f:
        total = len(demo_names(f))
    check_output_file(out if out is not None else file, overwrite, replaces_input=out is None, ours=is_dataset_file)
    names = _split(cameras)
    per_worker = render_worker_bytes(frame_bytes(len(names), image_size, depth, segmentation))
    workers = _workers(workers, total, per_worker, "demos")
    with _progress() as progress:
        bar = progress.add_task(f"rendering {', '.join(names)} at {image_size}px", total=total, info="")
        path = add_observations(
            file, names, image_size, depth, segmentation, out=out, robot=robot, workers=workers, replace=overwrite,
            on_demo=lambda name: progress.advance(bar),
        )
    console.print(f"wrote observations of {total} demos to [bold]{path}[/]")


@app.command()
@user_errors
def video(
    run: Annotated[Path, typer.Argument(help="run folder (or one HDF5 file)")],
    out: Annotated[Path, typer.Option(help="output .mp4")] = Path("grid.mp4"),
    num: Annotated[int, typer.Option(min=1, max=256, help="generated demos to show")] = 16,
    failed: Annotated[int, typer.Option(min=0, help="also show this many failed attempts (from failed.hdf5)")] = 0,
    camera: Annotated[str, typer.Option(help="camera name")] = "agentview",
    size: Annotated[str, typer.Option(help="size of each tile, WIDTHxHEIGHT")] = "240x180",
    columns: Annotated[int | None, typer.Option(min=1, help="tiles per row (default: square grid)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
    quality: QualityOption = RenderQuality.fast,
) -> None:
    """A grid video of generated demos, each labelled with its source demos and outcome."""
    from demoforge.data.video import VIDEO_SUFFIXES
    from demoforge.render.grid_video import clip_worker_bytes, grid_video, pick, run_files

    width, height = _parse_size(size)
    kept, failed_file = run_files(run)
    total = len(pick(kept, num)) + (len(pick(failed_file, failed)) if failed and failed_file else 0)
    check_output_file(out, overwrite, suffixes=VIDEO_SUFFIXES)
    workers = _workers(workers, total, clip_worker_bytes(width, height), "clips")
    with _progress() as progress:
        bar = progress.add_task("rendering clips", total=total, info="")
        path, tiles = grid_video(
            run, out, num, failed, camera, width, height, columns, workers=workers,
            on_clip=lambda: progress.advance(bar), quality=quality.value,
        )
    console.print(f"wrote [bold]{path}[/] ({tiles} demos)")


@app.command()
@user_errors
def report(
    run: Annotated[Path, typer.Argument(help="run folder (from demoforge generate)")],
    out: Annotated[Path | None, typer.Option(help="output HTML (default: RUN/report.html)")] = None,
    videos: Annotated[int, typer.Option(min=0, max=32, help="sample videos to embed")] = 4,
    camera: Annotated[str, typer.Option(help="camera for thumbnails and videos")] = "agentview",
    overwrite: Annotated[bool, typer.Option(help="replace the report if it exists")] = False,
    quality: QualityOption = RenderQuality.fast,
) -> None:
    """One self-contained HTML page: summary, failures, lengths, coverage, scenes and sample videos."""
    from demoforge.report import build_report

    with console.status("building the report (rendering sample videos)"):
        path = build_report(run, out, num_videos=videos, camera=camera, overwrite=overwrite, quality=quality.value,
                            on_warning=lambda m: console.print(f"[yellow]warning:[/] {escape(m)}", soft_wrap=True))
    console.print(f"wrote [bold]{path}[/] ({path.stat().st_size / 1e6:.1f} MB); open it in any browser")


@app.command()
@user_errors
def demo(
    task: Annotated[str, typer.Option(help="task name")] = "stack",
    num_source: Annotated[int, typer.Option(min=1, help="source demos to record")] = 10,
    num_demos: Annotated[int, typer.Option(min=1, help="demos to generate")] = 100,
    variation: Annotated[str | None, typer.Option(help="generation variation (default: D1; D2 for pour)")] = None,
    out: Annotated[Path, typer.Option(
        help="folder for everything this writes")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace a previous demo folder at --out (only one `demo` made)")] = False,
) -> None:
    """The end-to-end job: record sources, generate, summarise, and render a video of generated demos."""
    from demoforge.capture.scripted import record_sources
    from demoforge.render.grid_video import grid_video
    from demoforge.report import build_report
    from demoforge.runner.pool import plan_workers
    from demoforge.tasks import get_task

    variation = variation or get_task(task).demo_variation
    get_task(task).variation(variation)
    with OutputFolder(out, "demo", "demo", overwrite=overwrite, known=DEMO_ENTRIES) as work:
        console.rule(f"1/4 record {num_source} source demos of {task}")
        with _progress() as progress:
            bar = progress.add_task("recording", total=num_source, info="")
            record_sources(task, num_source, work / "source.hdf5", seed=seed,
                           on_demo=lambda d, k: progress.update(bar, completed=k))
        console.rule(f"2/4 generate {num_demos} demos under {variation}")
        cfg = GenerateConfig(task=task, source=str(work / "source.hdf5"), num_demos=num_demos, variation=variation,
                             seed=seed)
        stats = _run_generation(cfg, work / "generated")
        _print_summary(stats, out / "generated")
        console.rule("3/4 render a video of generated and failed demos")
        start = time.perf_counter()
        _, tiles = grid_video(work / "generated", work / "generated.mp4", num=4, failed=2, width=320, height=240,
                              columns=3, workers=plan_workers(None, 6)[0])
        console.print(f"video of {tiles} attempts ({time.perf_counter() - start:.1f} s)")
        console.rule("4/4 write the run report")
        build_report(work / "generated", work / "report.html")
    run = RunFolder(out / "generated")
    console.print(
        f"\nEverything is in [bold]{out}[/]: source demos {out / 'source.hdf5'}, dataset {run.demos}, "
        f"failed attempts {run.failed}, stats {run.stats}, video {out / 'generated.mp4'}, "
        f"report {out / 'report.html'} (open it in a browser)", soft_wrap=True,
    )
    _exit_if_short(stats, num_demos, run.path)


@app.command()
@user_errors
def train(
    data: Annotated[Path, typer.Option(help="demos HDF5 (mask/train for training, mask/valid for validation)")],
    out: Annotated[Path, typer.Option(help="policy folder")] = Path("policies/policy"),
    steps: Annotated[int, typer.Option(min=1, help="gradient steps")] = 20_000,
    batch_size: Annotated[int, typer.Option(min=1, help="samples per step")] = 256,
    lr: Annotated[float, typer.Option(help="peak learning rate (warm-up, then cosine decay)")] = 1e-3,
    chunk: Annotated[int, typer.Option(min=1, help="actions predicted per query")] = 16,
    execute: Annotated[int, typer.Option(min=1, help="actions executed per query")] = 4,
    cameras: Annotated[
        str, typer.Option(help="also learn from obs/<camera>_image with a CNN, e.g. agentview (slow on a CPU)")
    ] = "",
    obs_keys: Annotated[
        str, typer.Option(help="low-dimensional obs keys (default: eef pose, gripper, joint velocities, objects; with --cameras no objects)")
    ] = "",
    obs_noise: Annotated[
        float, typer.Option(min=0, help="Gaussian noise (std, in normalised units) on the state inputs while training")
    ] = 0.0,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    resume: Annotated[bool, typer.Option(help="continue from OUT/checkpoint.pt")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an existing policy folder")] = False,
    include_failed: Annotated[
        bool, typer.Option(help="also train on demos whose meta says the attempt failed (e.g. failed.hdf5)")
    ] = False,
) -> None:
    """Behaviour cloning (MLP with action chunks) on low-dimensional observations, optionally with images."""
    learn = _learn_modules()
    if not data.exists():
        raise DemoforgeError(f"{data}: dataset file does not exist")
    cfg = learn.train.TrainConfig(
        data=str(data), steps=steps, batch_size=batch_size, lr=lr, chunk=chunk, execute=execute, seed=seed,
        cameras=_split(cameras), obs_noise=obs_noise, include_failed=include_failed,
        obs_keys=_split(obs_keys) or None,
    )
    with _progress() as progress:
        bar = progress.add_task("training", total=steps, info="")

        def on_log(step: int, point: dict) -> None:
            valid = f", valid {point['valid_loss']:.4f}" if "valid_loss" in point else ""
            progress.update(bar, completed=step, info=f"loss {point['train_loss']:.4f}{valid}")

        folder = OutputFolder(out, "policy", "train", overwrite=overwrite, resume=resume, inputs=[data],
                              keep=lambda work: (work / learn.train.CHECKPOINT).exists(), known=POLICY_ENTRIES,
                              is_legacy=_policy_before_markers)
        with folder as work:
            result = learn.train.train(cfg, work, resume=resume, on_log=on_log)
    console.print(
        f"policy: [bold]{out}[/] ({result['train_episodes']} demos, {result['train_samples']} samples; "
        f"final loss {result.get('train_loss', float('nan')):.4f}); curve: {out / 'curve.png'}"
    )


@app.command("eval")
@user_errors
def eval_policy(
    policy: Annotated[str, typer.Option(help="policy folder (from demoforge train), or 'expert'")],
    task: Annotated[str, typer.Option(help="task name")] = "stack",
    variation: Annotated[str, typer.Option(help="reset distribution: D0, D1, D2")] = "D0",
    episodes: Annotated[int, typer.Option(min=1, help="rollouts")] = 50,
    seed: Annotated[int, typer.Option(min=0, help="seed of the episode starts (same seed = same starts)")] = 1000,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")] = None,
    video: Annotated[Path | None, typer.Option(help="grid video of the first episodes")] = None,
    video_episodes: Annotated[int, typer.Option(min=1, help="episodes in the video")] = 8,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result as JSON")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --json and --video if they exist")] = False,
    scenes: Annotated[str | None, typer.Option(
        help="scene family (tabletop, kitchen): episode i runs in the scene generate --scenes gives attempt i")] = None,
    scene_seed: Annotated[int, typer.Option(
        min=0, help="with --scenes: generation's --seed to meet its scenes again, another seed for unseen ones")] = 0,
    distinct_scenes: Annotated[int | None, typer.Option(
        min=1, help="with --scenes: as generate --distinct-scenes (episode i in scene i mod N)")] = None,
) -> None:
    """Roll a policy out in MuJoCo and report its success rate with a 95% confidence interval."""
    from demoforge.data.video import VIDEO_SUFFIXES, caption, grid_frames, write_video
    from demoforge.learn.evaluate import EXPERT, EvalScenes, evaluate
    from demoforge.runner.pool import EVAL_WORKER_BYTES

    if policy != EXPERT:
        _learn_modules()
    if video is not None:
        check_output_file(video, overwrite, option="--video", suffixes=VIDEO_SUFFIXES)
    if json_out is not None:  # a folder, or a read-only place: said now, not after every episode has run
        check_output_file(json_out, overwrite, option="--json")
    if scenes is None and distinct_scenes is not None:
        raise DemoforgeError("--distinct-scenes counts scenes of a family: pass --scenes too (tabletop or kitchen)")
    in_scenes = None if scenes is None else EvalScenes(scenes, scene_seed, distinct_scenes)
    workers = _workers(workers, episodes, EVAL_WORKER_BYTES, "episodes")
    where = f"{task} {variation}" + (f", {scenes} scenes of seed {scene_seed}" if scenes else "")
    with _progress() as progress:
        bar = progress.add_task(f"evaluating on {where}", total=episodes, info="")
        wins = [0]

        def on_episode(episode: Any) -> None:
            wins[0] += episode.success
            progress.update(bar, advance=1, info=f"{wins[0]} successes")

        result, runs = evaluate(
            policy, task, variation, episodes, seed, workers,
            video_episodes if video is not None else 0, on_episode=on_episode, scenes=in_scenes,
        )
    table = Table(title=f"{policy} on {where}", show_header=False)
    table.add_row("episodes", str(result.episodes))
    table.add_row("successes", str(result.successes))
    table.add_row("success rate", f"{result.success_rate:.1%} (95% CI {result.ci_low:.1%} - {result.ci_high:.1%})")
    table.add_row("mean steps", f"{result.mean_steps:.0f}")
    out_console.print(table)
    if json_out is not None:
        write_text(json_out, json.dumps(result.to_dict(), indent=2) + "\n")
    if video is not None:
        clips = [
            [caption(f, [f"episode {e.index}", "success" if e.success else "failure"],
                     (140, 255, 140) if e.success else (255, 140, 120)) for f in e.frames]
            for e in runs if e.frames is not None
        ]
        write_video(video, grid_frames(clips, columns=min(4, len(clips))))
        console.print(f"video: [bold]{video}[/]")


@app.command()
@user_errors
def study(
    task: Annotated[str, typer.Option(help="task name")] = "stack",
    sources: Annotated[int, typer.Option(min=1, help="source demos")] = 10,
    generated: Annotated[str, typer.Option(help="generated dataset sizes, comma separated")] = "100,1000",
    seeds: Annotated[int, typer.Option(min=1, help="training seeds per dataset")] = 3,
    variations: Annotated[str, typer.Option(help="evaluation variations")] = "D0,D1",
    episodes: Annotated[int, typer.Option(min=1, help="evaluation episodes per policy and variation")] = 50,
    train_steps: Annotated[int, typer.Option(min=1, help="gradient steps per policy")] = 20_000,
    out: Annotated[Path, typer.Option(help="study folder (rerun to resume)")] = Path("runs/study"),
    doc: Annotated[Path | None, typer.Option(help="also put the results (table and plot) in this task's section of this page, e.g. docs/learning.md")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: all cores)")] = None,
) -> None:
    """Source-only versus generated-data policies, trained and evaluated in one resumable command."""
    _learn_modules()
    from demoforge.learn.study import StudyConfig, plot_study, run_study, study_markdown, update_doc
    from demoforge.runner.pool import default_workers

    try:
        sizes = [int(n) for n in _split(generated)]
    except ValueError:
        raise DemoforgeError(f"--generated expects sizes like 100,1000, got {generated!r}") from None
    cfg = StudyConfig(task=task, sources=sources, generated=sizes, seeds=seeds, variations=_split(variations),
                      episodes=episodes, train_steps=train_steps, workers=workers or default_workers())
    from demoforge.outputs import user_entries

    if doc is not None:
        check_output_file(doc, overwrite=True, option="--doc")
    folder = OutputFolder(out, "study", "study", resume=True, keep=lambda work: bool(user_entries(work)),
                          is_legacy=lambda f: (f / "seconds.json").is_file())
    with folder as work, console.status("study") as status:
        results = run_study(cfg, work, on_stage=lambda text: (status.update(text), console.print(f"- {text}")))
        command = " ".join(["demoforge", *sys.argv[1:]])
        plot_study(results, work / "study.png")
        page = study_markdown(results, command, plot="study.png")
        write_text(work / "study.md", page)
    out_console.print(page)
    if doc is not None:
        doc.parent.mkdir(parents=True, exist_ok=True)
        figure = doc.with_name(f"{doc.stem}_{task}.png")
        shutil.copyfile(out / "study.png", figure)
        update_doc(doc, task, study_markdown(results, command, plot=figure.name))
        console.print(f"updated the {task} section of {doc} (plot: {figure})")


def _env_args(path: Path) -> dict:
    from demoforge.data.hdf5 import read_env_args

    return read_env_args(path)


def _learn_modules() -> Any:
    """The optional learning modules, or a clear error naming the extra to install."""
    try:
        import demoforge.learn.train
    except ImportError as exc:
        raise DemoforgeError(f"training needs the optional extra: pip install 'demoforge[learn]' ({exc})") from None
    return demoforge.learn


@export_app.command("lerobot")
@user_errors
def export_lerobot(
    file: Annotated[Path, typer.Argument(help="demos HDF5 file (e.g. runs/x/demos.hdf5)")],
    out: Annotated[Path, typer.Option(help="output dataset folder")] = Path("datasets/lerobot"),
    fps: Annotated[int, typer.Option(min=1, help="frames per second (demoforge controls at 20 Hz)")] = 20,
    task_description: Annotated[str | None, typer.Option(help="language instruction (default: from the task)")] = None,
    cameras: Annotated[str | None, typer.Option(help="cameras to export as videos (default: all in the file; '' none)")] = None,
    robot_type: Annotated[str | None, typer.Option(help="robot_type in meta/info.json (default: the file's robot)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing LeRobot dataset at --out")] = False,
) -> None:
    """Write a LeRobot v3.0 dataset (parquet + H.264 videos) that LeRobotDataset loads as is."""
    from demoforge.data.hdf5 import demo_names, open_dataset
    from demoforge.data.lerobot import export_lerobot as export

    with open_dataset(file) as f:
        total = len(demo_names(f))
    with _progress() as progress:
        bar = progress.add_task("exporting episodes", total=total, info="")
        result = export(
            file, out, fps=fps, task_description=task_description, robot_type=robot_type, overwrite=overwrite,
            on_episode=lambda done, _: progress.update(bar, completed=done),
            cameras=None if cameras is None else _split(cameras),
        )
    console.print(
        f"wrote LeRobot v3.0 dataset [bold]{result.out}[/]: {result.episodes} episodes, {result.frames} frames, "
        f"videos: {', '.join(result.cameras) or 'none'}"
    )


MapOption = Annotated[str | None, typer.Option(
    "--map", help="recorded object names onto the task's: RECORDED=OBJECT,... (default: robosuite's own tasks, "
    "e.g. Stack: cubeA=cube_a,cubeB=cube_b)")]


def _import_summary(out: Path, task: str, tracks: list, hold: int) -> None:
    import numpy as np

    from demoforge.capture.imports.common import held_at_end

    table = Table(title=f"imported into {out} (task {task})")
    for col in ("demo", "steps", "subtask ends (step)", f"success held {hold} steps at the end"):
        table.add_column(col)
    for track in tracks:
        ends = ", ".join(f"{name} {int(np.argmax(v))}" if v.any() else f"{name} never" for name, v in track.signals.items())
        table.add_row(track.meta.get("imported_demo", "?"), str(len(track.actions)), ends or "-",
                      "yes" if held_at_end(track.success, hold) else "[yellow]no[/]")
    out_console.print(table)
    dropped = sorted({a for t in tracks for a in t.meta.get("dropped_attributes", [])})
    if dropped:
        console.print(f"[yellow]the recording's MJCF was written by a newer MuJoCo: to load it here, "
                      f"{', '.join(dropped)} were dropped (recorded in env_args.env_kwargs.imported)[/]")
    failed = sum(not held_at_end(t.success, hold) for t in tracks)
    if failed:
        console.print(f"[yellow]{failed} demo(s) do not end in the task's success (their objects or the map may "
                      "differ from the task's); they are kept: drop them, or check --map[/]")


@import_app.command("robomimic")
@user_errors
def import_robomimic(
    file: Annotated[Path, typer.Argument(help="robomimic-layout HDF5 recorded in robosuite 1.4 / 1.5 (states, actions, "
                                         "model_file), e.g. MimicGen's source datasets")],
    task: Annotated[str, typer.Option(help="demoforge task the demos are sources of (name, task file, module:Class)")] = "stack",
    out: Annotated[Path, typer.Option(help="source file to write")] = Path("src.hdf5"),
    mapping: MapOption = None,
    assets: Annotated[Path | None, typer.Option(help="robosuite's models/assets folder (default: the installed "
                                               "robosuite pack)")] = None,
    robot: Annotated[str | None, typer.Option(help="demoforge robot (default: the task's)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
) -> None:
    """Import robosuite demos: poses recomputed in MuJoCo from each demo's model_file and states, the gripper from
    the actions, objects mapped onto the task's, subtasks from the task's own signals. Writes nothing unless
    every demo imports."""
    from demoforge.capture.imports.robomimic import import_robomimic as run_import
    from demoforge.tasks import get_task

    with console.status("importing") as status:
        path, tracks = run_import(file, task, out, mapping, assets, robot, overwrite,
                                  on_demo=lambda name, _: status.update(f"importing: {name} read"))
    _import_summary(path, task, tracks, get_task(task).success_hold_steps)


@import_app.command("lerobot")
@user_errors
def import_lerobot(
    folder: Annotated[Path, typer.Argument(help="LeRobot v3.0 dataset folder with end-effector and object poses")],
    task: Annotated[str, typer.Option(help="demoforge task the demos are sources of (name, task file, module:Class)")] = "stack",
    out: Annotated[Path, typer.Option(help="source file to write")] = Path("src.hdf5"),
    mapping: Annotated[str | None, typer.Option(
        "--map", help="the dataset's object names onto the task's: RECORDED=OBJECT,... (default: same names)")] = None,
    robot: Annotated[str | None, typer.Option(help="demoforge robot (default: the task's)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
) -> None:
    """Import a LeRobot dataset: end-effector and object poses per frame, the gripper from the action, subtasks from
    the task's own signals read in demoforge's world set to each frame. Writes nothing unless every episode imports."""
    from demoforge.capture.imports.lerobot import import_lerobot as run_import
    from demoforge.tasks import get_task

    with console.status("importing") as status:
        path, tracks = run_import(folder, task, out, mapping, robot, overwrite,
                                  on_demo=lambda name, _: status.update(f"importing: {name} read"))
    _import_summary(path, task, tracks, get_task(task).success_hold_steps)


@scenes_app.command("preview")
@user_errors
def scenes_preview(
    family: Annotated[str, typer.Option(help="scene family: tabletop or kitchen")] = "kitchen",
    num: Annotated[int, typer.Option(min=1, max=256, help="scenes to sample")] = 16,
    seed: Annotated[int, typer.Option(min=0, help="random seed (scene i uses the seed of attempt i)")] = 0,
    level: Annotated[str, typer.Option(help="variation level: D0, D1, D2")] = "D1",
    task: Annotated[str, typer.Option(help="task whose objects are placed in the scenes")] = "stack",
    camera: Annotated[str, typer.Option(help="camera name (agentview, sideview, robot0_eye_in_hand)")] = "agentview",
    size: Annotated[str, typer.Option(help="size of each tile, WIDTHxHEIGHT")] = "240x180",
    out: Annotated[Path, typer.Option(help="output PNG")] = Path("scenes.png"),
    scene_axes: Annotated[Path | None, typer.Option(help="JSON turning scene axes off or widening them")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace --out if it exists")] = False,
    quality: QualityOption = RenderQuality.fast,
) -> None:
    """Render a contact sheet of sampled scenes (the ones `generate --scenes` would use)."""
    from demoforge.render.preview import contact_sheet, render_scenes

    check_output_file(out, overwrite, suffixes=(".png", ".jpg", ".jpeg"))
    width, height = _parse_size(size)
    with _progress() as progress:
        bar = progress.add_task(f"sampling {family} scenes", total=num, info="")
        frames = render_scenes(
            family, num, seed, task, level, camera, width, height, on_scene=lambda: progress.advance(bar),
            axes=_load_axes(scene_axes), quality=quality.value,
        )
    path = contact_sheet(frames, out)
    console.print(f"wrote {path} ({num} {family} scenes at {level})")


def main() -> None:
    """The ``demoforge`` command: also a mistyped option is one line, with the code of a user mistake."""
    usage_error = typer.BadParameter.__base__  # click's UsageError, from wherever this typer takes click
    try:
        code = app(standalone_mode=False)
    except usage_error as exc:
        ctx = getattr(exc, "ctx", None)
        if exc.format_message():  # empty when the help was shown for a bare command
            error(exc.format_message() + (f" (see {ctx.command_path} --help)" if ctx is not None else ""))
        sys.exit(EXIT_USER)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
