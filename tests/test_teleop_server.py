"""The teleop server as a real process with real WebSocket clients: an operator records over the wire,
hostile clients cannot stop it or spoil the file, and Ctrl-C or kill -9 never loses a kept demo."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import aiohttp
import h5py
import pytest

from servers import ServerProcess, free_port, wait_until_listening
from teleop_driver import Frame, StackOperator
from test_cli import run

pytestmark = pytest.mark.abuse


class Server:
    """``demoforge teleop`` in a subprocess, on a free port."""

    def __init__(self, out: Path, *extra: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.out = out
        env = {**os.environ, "MUJOCO_GL": "egl", **(env or {})}
        self.process = ServerProcess(
            ["teleop", "--task", "stack", "--out", str(out), "--port", str(self.port), "--seed", "0", *extra],
            out.with_name(f"{out.stem}-server-{self.port}.log"), env,
        )
        wait_until_listening(self.process, self.port)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        return self.process.stop(sig)


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 20.0) -> dict:
    """The next message of ``kind`` (others are skipped); fails after ``timeout`` s even while others keep coming
    (frames arrive 40 times a second)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            msg = await ws.receive(timeout=remaining)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {kind!r} message within {timeout} s") from None
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"connection ended: {msg}")
        data = json.loads(msg.data)
        if data["type"] == kind:
            return data


async def operate(ws: aiohttp.ClientWebSocketResponse, scene: dict, until_kept: int, max_s: float = 60.0,
                  stop_after_ticks: int | None = None) -> dict:
    """Stack by keys over the wire, one decision per control tick, until ``until_kept`` demos are kept (or,
    with ``stop_after_ticks``, return mid-demo after that many ticks of recording)."""
    operator, held, last_tick, recorded = StackOperator(), frozenset(), -1, 0
    deadline = time.monotonic() + max_s
    status: dict = {}
    while time.monotonic() < deadline:
        msg = json.loads((await ws.receive(timeout=10)).data)
        if msg["type"] == "status":
            status = msg
            if msg["kept"] >= until_kept:
                return status
            continue
        if msg["type"] != "frame" or msg["tick"] == last_tick:
            continue
        last_tick = msg["tick"]
        if msg["state"] == "recording":
            recorded += 1
            if stop_after_ticks is not None and recorded >= stop_after_ticks:
                return status
        if msg["state"] == "done":
            operator, held = StackOperator(), frozenset()
            continue
        down, tap = operator.keys(Frame.of(scene, msg))
        wanted = frozenset(down) | ({"Space"} if tap else set())
        if wanted != held:
            await ws.send_str(json.dumps({"type": "keys", "down": sorted(wanted)}))
            held = wanted
    raise AssertionError(f"no kept demo in time: {status}, {operator.log}")


async def connect(session: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientWebSocketResponse, dict, bool]:
    ws = await session.ws_connect(url, max_msg_size=0)
    scene = await receive(ws, "scene")
    role = await receive(ws, "role")
    return ws, scene, role["driver"]


def demos_in(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return len(f["data"])


def test_hostile_clients_leave_the_server_running_and_the_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "src.hdf5"
    server = Server(out)

    async def scenario() -> dict:
        async with aiohttp.ClientSession() as http:
            driver, scene, is_driver = await connect(http, server.url)
            assert is_driver
            await operate(driver, scene, until_kept=1)
            roles: list[bool] = []  # the driver keeps reading (a tab that stops reading for 5 s is dropped)

            async def drain() -> None:
                async for message in driver:
                    data = json.loads(message.data) if message.type == aiohttp.WSMsgType.TEXT else {}
                    if data.get("type") == "role":
                        roles.append(data["driver"])

            drainer = asyncio.create_task(drain())
            # a second tab watches; its input is refused with a reason, not applied
            watcher, _, watching_driver = await connect(http, server.url)
            assert not watching_driver
            await watcher.send_str(json.dumps({"type": "keys", "down": ["KeyW"]}))
            assert "another tab is driving" in (await receive(watcher, "error"))["message"]
            # garbage of every kind from the watcher, and a flood
            for text in ["{not json", "[]", '{"type": "keys", "down": "KeyW"}', "null", '"x"' * 10,
                         '{"type": "controller", "hand": "left", "pose": [NaN, 0, 0, 0, 0, 0, 1], "squeeze": 1, "trigger": 0}',
                         '{"type": "hand", "hand": "left", "joints": ' + json.dumps([[1e300] * 7] * 25) + "}",
                         "[" * 50000]:
                await watcher.send_str(text)
            await watcher.send_bytes(b"\x00\x01binary")
            for _ in range(5000):
                await watcher.send_str('{"type": "keys", "down": ["KeyQ"]}')
            oversized = await http.ws_connect(server.url)
            await oversized.send_str(json.dumps({"type": "keys", "down": ["x" * 100_000]}))
            closed = await oversized.receive(timeout=10)
            while closed.type == aiohttp.WSMsgType.TEXT:  # the scene and frames sent before it spoke
                closed = await oversized.receive(timeout=10)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            # the watcher takes control; the old driver is told; then it starts a demo and vanishes mid-way. The
            # flood spent the watcher's message budget, so its first clicks may be dropped: click until it takes.
            role = None
            for _ in range(20):
                await watcher.send_str(json.dumps({"type": "command", "name": "take_control"}))
                try:
                    role = await receive(watcher, "role", timeout=1.0)
                    break
                except AssertionError:
                    continue
            assert role is not None and role["driver"] is True, role
            for _ in range(200):
                if roles:
                    break
                await asyncio.sleep(0.05)
            assert roles == [False], roles  # the old driver is told it now watches
            await driver.close()
            drainer.cancel()
            await operate(watcher, scene, until_kept=99, stop_after_ticks=30)
            await watcher.close()
            # the server still serves, and reports one kept and the abandoned demo discarded
            fresh, _, fresh_driver = await connect(http, server.url)
            assert fresh_driver
            status = await receive(fresh, "status")
            for _ in range(40):
                if status["discarded"] >= 1:
                    break
                status = await receive(fresh, "status")
            frame = await receive(fresh, "frame")
            await fresh.close()
            return {"status": status, "frame": frame}

    try:
        seen = asyncio.run(scenario())
    finally:
        code, output = server.stop()
    assert seen["frame"]["bodies"] and seen["status"]["kept"] == 1, seen["status"]
    assert seen["status"]["last"]["reason"] == "the operator disconnected", seen["status"]
    assert code == 0, output
    assert "Traceback" not in output, output
    assert demos_in(out) == 1 and not list(tmp_path.glob("*.partial*"))
    check = run("replay", str(out), "--check")
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_a_stopped_server_keeps_every_kept_demo_and_no_half_one(tmp_path: Path, how: str) -> None:
    out = tmp_path / "src.hdf5"
    server = Server(out)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            ws, scene, _ = await connect(http, server.url)
            await operate(ws, scene, until_kept=1)
            await operate(ws, scene, until_kept=99, stop_after_ticks=40)  # the second demo is under way ...

    try:
        asyncio.run(scenario())
    finally:
        code, output = server.stop(signal.SIGKILL if how == "kill" else signal.SIGINT)  # ... when the server stops
    assert code == (-signal.SIGKILL if how == "kill" else 0), output
    assert demos_in(out) == 1 and not list(tmp_path.glob("*.partial*"))
    log = out.with_name("src.session.jsonl")
    assert log.exists()
    again = tmp_path / "again.hdf5"
    replayed = run("teleop", "--replay-input", str(log), "--out", str(again))
    assert replayed.returncode == 0 and demos_in(again) == 1, replayed.stderr
    resumed = Server(out, "--append")  # a new session adds to the same file
    code, output = resumed.stop()
    assert code == 0 and "1 demos in" in " ".join(output.split()), output


def test_https_serves_the_page_with_a_certificate_for_the_lan_address(tmp_path: Path) -> None:
    import ssl

    from cryptography import x509

    from demoforge.capture.teleop.tls import lan_address

    server = Server(tmp_path / "src.hdf5", "--https", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})

    async def fetch() -> tuple[int, str, dict]:
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # self-signed, as the user accepts it
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://127.0.0.1:{server.port}/", ssl=insecure) as page:
                body = await page.text()
            ws = await http.ws_connect(f"wss://127.0.0.1:{server.port}/ws", ssl=insecure)
            scene = await receive(ws, "scene")
            await ws.close()
            return page.status, body, scene

    try:
        status, body, scene = asyncio.run(fetch())
    finally:
        code, output = server.stop()
    assert status == 200 and "demoforge teleop" in body and scene["geoms"]
    address = lan_address()
    assert code == 0 and f"https://{address}:{server.port}" in output and "\u2588" in output, output  # URL and QR
    pem = next((tmp_path / "cache" / "demoforge" / "tls").glob("*.pem")).read_bytes()
    names = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert address in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} | {"127.0.0.1"}
