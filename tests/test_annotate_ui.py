"""`demoforge annotate --ui` as a user meets it: a real server process and a real browser (headless Chromium).

The page shows the automatic boundaries per arm and plays the demo; dragging a handle moves a boundary, never
outside the demo or past its neighbours; saving writes an annotation file the loader, `annotate --annotations`
and the generator's `source_boundaries` accept; requests that break the file's rules are refused with a 400 and
leave the file as it was; the frames are real pictures.
"""

from __future__ import annotations

import io
import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

import demoforge as df
from demoforge.capture.annotate_ui.session import AnnotationSession
from demoforge.data.hdf5 import read_demos
from demoforge.mimic.segments import boundaries_from_signals, load_annotations, rising_edge, source_boundaries
from demoforge.tasks import get_task

from servers import CHROMIUM_ARGS, ServerProcess, free_port, wait_until_listening
from test_cli import assert_user_error, run

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"


class Server:
    """``demoforge annotate FILE --ui`` in a subprocess on a free port."""

    def __init__(self, file: Path, task: str, *extra: str) -> None:
        self.port = free_port()
        self.process = ServerProcess(
            ["annotate", str(file), "--task", task, "--ui", "--port", str(self.port), *extra],
            file.with_name(f"annotate-{self.port}.log"), {**os.environ, "MUJOCO_GL": "egl"},
        )
        wait_until_listening(self.process, self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, bytes]:
        return self._send(urllib.request.Request(self.url + path))

    def post(self, path: str, body: bytes | str) -> tuple[int, bytes]:
        data = body.encode() if isinstance(body, str) else body
        return self._send(urllib.request.Request(self.url + path, data=data, method="POST",
                                                 headers={"Content-Type": "application/json"}))

    @staticmethod
    def _send(request: urllib.request.Request) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def stop(self) -> tuple[int, str]:
        return self.process.stop(signal.SIGINT)


@pytest.fixture(scope="module")
def stack_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("annotate_ui") / "src.hdf5"
    df.record_sources("stack", 2, path, seed=0)
    return path


@pytest.fixture(scope="module")
def stack_server(stack_src: Path):
    server = Server(stack_src, "stack")
    yield server
    code, out = server.stop()
    assert code == 0, out


@pytest.fixture(scope="module")
def handover_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("annotate_ui_handover") / "handover.hdf5"
    df.record_sources("handover", 1, path, seed=0)
    return path


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def automatic(path: Path, task_name: str) -> dict[str, list[list[int]]]:
    """Per demo, per arm: the boundaries the stored termination signals give."""
    task = get_task(task_name)
    return {d.meta["name"]: [boundaries_from_signals(d, task, "test", a) for a in range(task.num_arms)]
            for d in read_demos(path)}


def lengths(path: Path) -> dict[str, int]:
    return {d.meta["name"]: len(d) for d in read_demos(path, require_datagen=False)}


def open_page(page, server: Server) -> None:
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")


def shown(page) -> list[list[int]]:
    """Per arm track: the steps its handles are at."""
    return page.evaluate("""() => [...document.querySelectorAll('.lane')].map(
        (lane) => [...lane.querySelectorAll('.handle')].map((h) => Number(h.dataset.step)))""")


def drag(page, arm: int, index: int, x_of) -> None:
    """Drag boundary ``index`` of ``arm`` with the mouse to the x that ``x_of(lane_box)`` gives."""
    lane = page.locator(f'.lane[data-arm="{arm}"]').bounding_box()
    handle = page.locator(f'.lane[data-arm="{arm}"] .handle[data-index="{index}"]').bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(x_of(lane), lane["y"] + lane["height"] / 2, steps=6)
    page.mouse.up()


def at_step(step: int, length: int):
    return lambda lane: lane["x"] + lane["width"] * step / length


def wait_for_frames(page) -> None:
    page.wait_for_selector('#render-state[data-state="ready"]', state="attached", timeout=0)


def canvas_spread(page) -> float:
    """Standard deviation of the canvas's pixels: a picture, not a blank frame."""
    return page.evaluate("""() => {
        const c = document.getElementById('video');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0, s2 = 0, n = 0;
        for (let i = 0; i < d.length; i += 4) { s += d[i + 1]; s2 += d[i + 1] * d[i + 1]; n++; }
        return Math.sqrt(s2 / n - (s / n) ** 2);
    }""")


# ---- one arm -------------------------------------------------------------------------------------
def test_page_shows_the_automatic_boundaries_and_plays(stack_server: Server, stack_src: Path, page) -> None:
    expected = automatic(stack_src, "stack")
    open_page(page, stack_server)
    assert page.locator(".track").count() == 1
    assert page.locator(".arm-label").all_text_contents() == ["arm0"]
    assert page.locator('.lane[data-arm="0"] .segment').evaluate_all("s => s.map(e => e.dataset.subtask)") == [
        "grasp_cube_a", "place_on_cube_b"]
    assert shown(page) == expected["demo_0"]
    page.click('#demos button[data-demo="demo_1"]')
    assert shown(page) == expected["demo_1"]
    wait_for_frames(page)
    assert page.get_attribute("#video", "data-step") == "0"
    assert canvas_spread(page) > 5
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('step').textContent) >= 5")
    page.click("#play")  # pause
    step = int(page.text_content("#step"))
    assert page.get_attribute("#video", "data-step") == str(step)  # the picture is the step the timeline shows
    length = lengths(stack_src)["demo_1"]
    page.mouse.click(at_step(30.5, length)(page.locator('.lane[data-arm="0"]').bounding_box()),
                     page.locator('.lane[data-arm="0"]').bounding_box()["y"] + 5)
    assert page.text_content("#step") == "30"  # clicking the timeline seeks


def test_drag_save_and_apply(stack_server: Server, stack_src: Path, page, tmp_path: Path) -> None:
    auto = automatic(stack_src, "stack")
    length = lengths(stack_src)["demo_0"]
    open_page(page, stack_server)
    drag(page, 0, 0, lambda lane: lane["x"] + lane["width"] + 10)  # past the end: stops at the last step
    assert shown(page) == [[length - 1]]
    drag(page, 0, 0, lambda lane: lane["x"] - 40)  # before the start: stops at step 1
    assert shown(page) == [[1]]
    new = auto["demo_0"][0][0] + 9
    drag(page, 0, 0, at_step(new, length))
    assert shown(page) == [[new]]
    assert page.text_content("#step") == str(new)  # the frame where the next subtask begins
    page.click("#save")
    page.wait_for_selector(".message.ok")
    saved = stack_src.with_name("src.annotations.json")
    assert json.loads(saved.read_text()) == {"demo_0": {"grasp_cube_a": new}}
    assert load_annotations(saved, get_task("stack")) == {"demo_0": [new]}
    command = page.text_content("#commands")
    assert f"demoforge annotate {stack_src} --task stack --annotations {saved}" in command

    page.reload()  # the page starts from what was saved
    page.wait_for_selector("body[data-ready=true]")
    assert shown(page) == [[new]]

    other = tmp_path / "other.hdf5"
    result = run("annotate", str(stack_src), "--task", "stack", "--annotations", str(saved), "--out", str(other))
    assert result.returncode == 0, result.stderr
    applied = {d.meta["name"]: d for d in read_demos(other)}
    assert rising_edge(applied["demo_0"].datagen.subtask_term_signals["grasp_cube_a"], 0) == new
    assert automatic(other, "stack") == {"demo_0": [[new]], "demo_1": auto["demo_1"]}


BAD_BODIES = [
    ("{bad", "not valid JSON"),
    ("[" * 100_000, "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    ("[45]", "expected an object"),
    ('{"demo_9": [10]}', "demo_9"),
    ('{"demo_0": [10, 20]}', "expected 1 boundaries"),
    ('{"demo_0": []}', "expected 1 boundaries"),
    ('{"demo_0": [0]}', "outside the demo"),
    ('{"demo_0": [-4]}', "outside the demo"),
    ('{"demo_0": [100000]}', "outside the demo"),
    ('{"demo_0": [12.5]}', "not an integer"),
    ('{"demo_0": ["12"]}', "not an integer"),
    ('{"demo_0": [true]}', "not an integer"),
    ('{"demo_0": {"grasp_b": 12}}', "unknown subtasks"),
    ('{"demo_0": {}}', "missing subtask boundaries"),
    ('{"demo_0": 12}', "expected a list"),
    ('{"demo_0": [30], "demo_1": [0]}', "demo_1"),  # one bad demo: nothing is written
]


@pytest.mark.parametrize("body, needle", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_invalid_saves_are_refused(stack_server: Server, stack_src: Path, body: str | bytes, needle: str) -> None:
    saved = stack_src.with_name("src.annotations.json")
    before = saved.read_bytes() if saved.exists() else None
    status, reply = stack_server.post("/api/save", body)
    assert status == 400, reply
    assert needle in json.loads(reply)["error"]
    assert (saved.read_bytes() if saved.exists() else None) == before
    assert stack_server.get("/api/session")[0] == 200  # still serving


def test_bad_requests_get_4xx(stack_server: Server, stack_src: Path) -> None:
    length = lengths(stack_src)["demo_0"]
    for path in ("/api/demos/demo_7/frames", "/api/demos/demo_7/frames/0", f"/api/demos/demo_0/frames/{length}",
                 "/api/demos/demo_0/frames/-1", "/api/demos/demo_0/frames/x", "/static/../session.py", "/nothing"):
        status, reply = stack_server.get(path)
        assert status == 404, (path, reply)
    assert stack_server.post("/api/save", "{" + " " * 2_000_000 + "}")[0] == 413
    assert stack_server.get("/api/session")[0] == 200


def test_frames_are_pictures_of_the_right_size(stack_server: Server, stack_src: Path) -> None:
    length = lengths(stack_src)["demo_1"]
    pictures = []
    for index in (0, length - 1):
        status, body = stack_server.get(f"/api/demos/demo_1/frames/{index}")  # waits for the render
        assert status == 200
        image = Image.open(io.BytesIO(body))
        assert image.format == "JPEG" and image.size == (320, 240)
        pictures.append(np.asarray(image.convert("RGB"), dtype=float))
        assert pictures[-1].std() > 5
    assert np.abs(pictures[0] - pictures[1]).mean() > 1  # the scene moved between the first and last step
    status, body = stack_server.get("/api/demos/demo_1/frames")
    assert json.loads(body) == {"state": "ready", "done": length, "total": length, "error": None,
                                "width": 320, "height": 240, "fps": 20}


# ---- two arms ------------------------------------------------------------------------------------
def test_two_arms_one_track_each_saved_by_subtask_name(handover_src: Path, page, tmp_path: Path) -> None:
    task = get_task("handover")
    auto = automatic(handover_src, "handover")["demo_0"]
    length = lengths(handover_src)["demo_0"]
    ann = tmp_path / "ann.json"
    server = Server(handover_src, "handover", "--annotations", str(ann))
    try:
        open_page(page, server)
        assert page.locator(".arm-label").all_text_contents() == ["right", "left"]
        assert shown(page) == auto
        for arm in range(2):
            names = page.locator(f'.lane[data-arm="{arm}"] .segment').evaluate_all("s => s.map(e => e.dataset.subtask)")
            assert names == [sub.name for sub in task.arm_subtasks(arm)]
        left_release = auto[1][2]
        drag(page, 1, 1, at_step(length - 5, length))  # left_present cannot pass left_release
        assert shown(page) == [auto[0], [auto[1][0], left_release - 1, left_release]]
        present = (auto[1][0] + left_release) // 2 + 3
        drag(page, 1, 1, at_step(present, length))
        drag(page, 0, 0, at_step(auto[0][0] - 6, length))
        edited = [[auto[0][0] - 6], [auto[1][0], present, left_release]]
        assert shown(page) == edited

        page.click("#save")
        page.wait_for_selector(".message.ok")
        assert json.loads(ann.read_text()) == {"demo_0": {
            "right_grasp": edited[0][0], "left_grasp": edited[1][0], "left_present": present,
            "left_release": left_release}}
        annotations = load_annotations(ann, task)
        _, per_arm = source_boundaries(read_demos(handover_src), task, annotations)
        assert per_arm == [edited]

        before = ann.read_bytes()
        for body, needle in [
            ('{"demo_0": [140, 45, 86, 149]}', "needs subtask names"),
            ('{"demo_0": {"right_grasp": 140, "left_grasp": 90, "left_present": 60, "left_release": 149}}',
             "increase strictly"),
            ('{"demo_0": {"right_grasp": 140, "left_grasp": 45, "left_present": 86}}', "missing subtask boundaries"),
        ]:
            status, reply = server.post("/api/save", body)
            assert status == 400 and needle in json.loads(reply)["error"], reply
        assert ann.read_bytes() == before
    finally:
        code, out = server.stop()
    assert code == 0, out
    assert f"demoforge annotate {handover_src} --task handover --annotations {ann}" in " ".join(out.split())


# ---- the command line ----------------------------------------------------------------------------
def test_user_mistakes_exit_2(stack_src: Path, tmp_path: Path) -> None:
    assert_user_error(run("annotate", str(tmp_path / "missing.hdf5"), "--task", "stack", "--ui"), "missing.hdf5")
    assert_user_error(run("annotate", str(stack_src), "--task", "handover", "--ui"), "no body", "handover")
    assert_user_error(run("annotate", str(stack_src), "--task", "stack", "--ui", "--out", str(tmp_path / "o.hdf5")),
                      "--out")
    bad = tmp_path / "bad.json"
    bad.write_text('{"demo_0": [0]}')
    assert_user_error(run("annotate", str(stack_src), "--task", "stack", "--ui", "--annotations", str(bad)),
                      "bad.json", "outside the demo")


def test_starts_from_an_annotation_file_and_refuses_a_busy_port(stack_src: Path, tmp_path: Path) -> None:
    ann = tmp_path / "start.json"
    ann.write_text('{"demo_1": [33]}')
    server = Server(stack_src, "stack", "--annotations", str(ann))
    try:
        demos = {d["name"]: d for d in json.loads(server.get("/api/session")[1])["demos"]}
        assert demos["demo_1"]["boundaries"] == [[33]] and demos["demo_1"]["saved"]
        assert not demos["demo_0"]["saved"]
        busy = run("annotate", str(stack_src), "--task", "stack", "--ui", "--port", str(server.port))
        assert_user_error(busy, f"port {server.port} is in use")
    finally:
        code, out = server.stop()
    assert code == 0, out
    assert ann.read_text() == '{"demo_1": [33]}'  # nothing saved: the file is as it was


def test_a_demo_whose_signal_never_rises_gets_boundaries_to_drag(stack_src: Path, tmp_path: Path) -> None:
    """Cut before the grasp, demo_0 has no automatic boundary: it starts spread evenly and can be saved by hand."""
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(stack_src.read_bytes())
    keep = 20
    with h5py.File(cut, "r+") as f:
        group = f["data/demo_0"]
        arrays = []
        group.visititems(lambda key, node: arrays.append(key) if isinstance(node, h5py.Dataset) else None)
        for key in arrays:
            value = group[key][:keep]
            del group[key]
            group[key] = value
        group.attrs["num_samples"] = keep
    session = AnnotationSession(cut, "stack")
    demo = session.bounds["demo_0"]
    assert demo.automatic is None and "never rises" in demo.problem
    assert demo.boundaries == [[keep // 2]] and not demo.saved
    assert session.bounds["demo_1"].automatic == automatic(stack_src, "stack")["demo_1"]
    assert session.save({"demo_0": {"grasp_cube_a": 7}}) == ["demo_0"]
    assert session.out == tmp_path / "cut.annotations.json"
    result = run("annotate", str(cut), "--task", "stack", "--annotations", str(session.out), "--out",
                 str(tmp_path / "fixed.hdf5"))
    assert result.returncode == 0, result.stderr
    assert automatic(tmp_path / "fixed.hdf5", "stack")["demo_0"] == [[7]]
