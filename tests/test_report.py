"""`demoforge report`: a real run's HTML page, parsed, its videos decoded, and opened in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import h5py
import imageio.v2 as imageio
import numpy as np
import pytest

import demoforge as df
from demoforge.errors import InputFileError
from demoforge.report import build_report
from demoforge.report.build import failure_breakdown
from demoforge.runner.run_folder import RunStats

SECTIONS = ("summary", "failures", "lengths", "coverage", "scenes", "videos")
CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """What each top-level <section id=...> holds: tag counts, text, and the attributes of its media."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.current = self.sections.setdefault(a["id"], {"tags": {}, "text": [], "videos": [], "imgs": [],
                                                              "clips": []})
        if self.current is None:
            return
        self.current["tags"][tag] = self.current["tags"].get(tag, 0) + 1
        if tag == "video":
            self.current["videos"].append(a)
        elif tag == "img":
            self.current["imgs"].append(a)
        elif tag == "div" and "data-demo" in a:
            self.current["clips"].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current["text"].append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections[section]["text"]).split())


@pytest.fixture(scope="module")
def report(stack_run: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    run, _ = stack_run
    out = tmp_path_factory.mktemp("report") / "report.html"  # not inside the shared run folder
    start = time.perf_counter()
    assert build_report(run, out) == out
    return out, time.perf_counter() - start


def test_page_has_every_section_plot_and_video(stack_run: tuple[Path, RunStats], report: tuple[Path, float]) -> None:
    run, stats = stack_run
    out, seconds = report
    html = out.read_text()
    page = Page(html)
    assert set(SECTIONS) <= set(page.sections), sorted(page.sections)
    assert "<script" not in html and not re.search(r"""(src|href)=["'](https?:)?//""", html)  # nothing external
    config = json.loads((run / "config.json").read_text())
    summary = page.text("summary")
    for needle in ("stack", "D1", config["source"], f"{stats.successes} / {stats.attempts}", "mujoco " +
                   config["mujoco_version"], "demoforge " + config["demoforge_version"], f"{stats.physics_steps:,}"):
        assert needle in summary, needle
    assert page.sections["failures"]["tags"].get("svg", 0) >= 1  # the subtask funnel (and reasons, if any failed)
    assert "grasp_cube_a" in page.text("failures") and "place_on_cube_b" in page.text("failures")
    assert page.sections["lengths"]["tags"].get("svg") == 1
    assert page.sections["coverage"]["tags"].get("svg") == 1
    assert "source demos (6)" in page.text("coverage") and "cube_a" in page.text("coverage")
    scenes = page.sections["scenes"]
    assert "fixed" in page.text("scenes") and len(scenes["imgs"]) == stats.successes
    assert all(img["src"].startswith("data:image/jpeg;base64,") for img in scenes["imgs"])
    videos = page.sections["videos"]["videos"]
    assert len(videos) == 4 + min(1, sum(stats.failures.values()))
    for video in videos:
        assert {"controls", "muted", "loop", "playsinline"} <= set(video)
        assert video["src"].startswith("data:video/mp4;base64,")
    assert out.stat().st_size < 4_000_000
    assert not [p for p in out.parent.iterdir() if p.name != "report.html"]  # no temp file left
    print(f"build_report: {seconds:.2f} s, {out.stat().st_size / 1e6:.2f} MB")


def test_embedded_videos_have_one_frame_per_step(
    stack_run: tuple[Path, dict], report: tuple[Path, float], tmp_path: Path
) -> None:
    run, _ = stack_run
    clips = Page(report[0].read_text()).sections["videos"]
    with h5py.File(run / "demos.hdf5", "r") as f:
        lengths = {name: int(f["data"][name].attrs["num_samples"]) for name in f["data"]}
    for i, (clip, video) in enumerate(zip(clips["clips"], clips["videos"])):
        if clip["data-file"] != "demos.hdf5":
            continue
        path = tmp_path / f"{i}.mp4"
        path.write_bytes(base64.b64decode(video["src"].split(",", 1)[1]))
        frames = list(imageio.get_reader(path).iter_data())
        assert len(frames) == lengths[clip["data-demo"]] == int(clip["data-length"])
        assert frames[0].shape[1] == 256 and frames[0].std() > 5  # a real picture at the asked width


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")
def test_page_renders_and_videos_play_in_chromium(report: tuple[Path, float], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out, _ = report
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--headless=new"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(out.as_uri())
            # HAVE_CURRENT_DATA (2): Chromium decoded a frame, so it plays H.264, not just parsed the header.
            page.wait_for_function(
                "[...document.querySelectorAll('video')].every(v => v.readyState >= 2 && v.duration > 0)", timeout=30_000
            )
            videos = page.evaluate(
                "[...document.querySelectorAll('video')].map(v => ({ready: v.readyState, duration: v.duration,"
                " width: v.videoWidth, error: v.error && v.error.code,"
                " length: +v.closest('[data-length]').dataset.length}))"
            )
            assert videos and all(v["error"] is None and v["width"] > 0 for v in videos), videos
            for v in videos:
                assert v["duration"] == pytest.approx(v["length"] / 20.0, abs=0.11), v
            sizes = page.evaluate("[...document.querySelectorAll('section svg')].map(s => {"
                                  " const r = s.getBoundingClientRect(); return [r.width, r.height]; })")
            assert len(sizes) >= 3 and all(w > 100 and h > 50 for w, h in sizes), sizes
            frame = np.asarray(imageio.imread(page.locator("video").first.screenshot()))
            assert frame.std() > 5, "the first video shows no picture"
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    image = np.asarray(imageio.imread(shot))
    assert image.shape[0] > 1500 and image[..., :3].std() > 20
    assert errors == []


@pytest.fixture(scope="module")
def kitchen_run(stack_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scenes sampled per attempt; strong action noise at D2 makes failed attempts certain, on any MuJoCo."""
    out = tmp_path_factory.mktemp("runs") / "stack_kitchen"
    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=3, max_attempts=12, variation="D2",
                            seed=3, scenes="kitchen", action_noise=0.3)
    df.generate(cfg, out)
    return out


def test_varied_scenes_and_a_failed_attempt(kitchen_run: Path) -> None:
    stats = json.loads((kitchen_run / "stats.json").read_text())
    out = build_report(kitchen_run, kitchen_run / "k.html", num_videos=1, video_size=128)
    page = Page(out.read_text())
    scenes = page.text("scenes")
    assert "kitchen" in scenes and "table texture" in scenes and "lights per scene" in scenes
    assert len(page.sections["scenes"]["imgs"]) == stats["successes"]
    failures = page.text("failures")
    for reason, count in stats["failures"].items():
        assert reason in failures
    assert stats["failures"], "this run is expected to hold a failed attempt: pick another seed for the fixture"
    clips = page.sections["videos"]["clips"]
    assert [c["data-file"] for c in clips] == ["demos.hdf5", "failed.hdf5"]
    with h5py.File(kitchen_run / "failed.hdf5", "r") as f:
        reason = json.loads(f["data/demo_0"].attrs["meta"])["reason"]
    assert f"reason: {reason}" in page.text("videos")
    assert page.sections["failures"]["tags"].get("svg") == 2  # reasons and the subtask funnel
    assert "source demos" in page.text("coverage") and "failed (" in page.text("coverage")


def test_without_failed_file_and_with_the_source_gone(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    src, _ = stack_run
    run = tmp_path / "run"
    run.mkdir()
    for name in ("demos.hdf5", "stats.json"):
        shutil.copy(src / name, run / name)
    config = json.loads((src / "config.json").read_text())
    config.update(source=str(tmp_path / "moved_away.hdf5"), keep_failed=False)
    (run / "config.json").write_text(json.dumps(config))
    out = build_report(run, num_videos=1, video_size=64)
    assert out == run / "report.html" and out.is_file()
    page = Page(out.read_text())
    assert "moved_away.hdf5 no longer exists" in page.text("coverage")
    assert page.sections["coverage"]["tags"].get("svg") == 1 and "source demos" not in page.text("coverage")
    assert "not kept" in page.text("summary")
    assert len(page.sections["videos"]["videos"]) == 1
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "demos.hdf5", "report.html", "stats.json"]


def test_not_a_run_folder_is_a_clear_error_and_writes_nothing(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match=r"stats\.json.*not a demoforge run folder"):
        build_report(empty)
    assert list(empty.iterdir()) == []
    with pytest.raises(InputFileError, match="is not a folder"):
        build_report(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()

    src, _ = stack_run
    run = tmp_path / "run"
    run.mkdir()
    for name in ("demos.hdf5", "config.json"):
        shutil.copy(src / name, run / name)
    (run / "stats.json").write_text('{"attempts": 6, ')
    (run / "report.html").write_text("previous report")
    with pytest.raises(InputFileError, match=r"stats\.json: is not valid JSON"):
        build_report(run)
    assert (run / "report.html").read_text() == "previous report"  # an old report is not clobbered
    shutil.copy(src / "stats.json", run / "stats.json")
    (run / "demos.hdf5").unlink()
    with pytest.raises(InputFileError, match=r"demos\.hdf5.*not a demoforge run folder"):
        build_report(run)
    (run / "demos.hdf5").write_text("not hdf5")
    with pytest.raises(InputFileError, match=r"demos\.hdf5: not a readable HDF5 file"):
        build_report(run)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "demos.hdf5", "report.html", "stats.json"]


def test_failures_by_subtask_funnel() -> None:
    stats = RunStats(attempts=10, failures={"subtask grasp failed": 3, "physics unstable": 2, "subtask place failed": 1,
                                            "episode too long": 1})
    result = failure_breakdown(stats, ["grasp", "place"])
    assert result.other == 3
    assert result.funnel == [("grasp", 7, 3), ("place", 4, 1)]  # 3 = the kept demos
    assert [(r, s) for r, _, s in result.reasons][0] == ("subtask grasp failed", "grasp")
    assert {r: s for r, _, s in result.reasons}["physics unstable"] is None
