"""The teleop server: the page, a WebSocket per tab, and the control thread that runs the session.

The control thread ticks the session at 20 Hz of wall time and splits each control period's physics in
two halves, sending the body poses after each: 40 frames per second, each a real simulated state. The
event loop only checks and queues what tabs send and forwards frames. One tab drives (the first to
connect, or the last to press "take control"); the others watch. A tab that floods is throttled, a
malformed or out-of-range message is answered with an error and dropped, a slow tab only ever gets the
newest frame, and a driver that disconnects mid-demo has that demo discarded: whatever a client does,
the server keeps running and the output file holds only whole, kept demos.
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from demoforge.capture.teleop.inputs import CONTROL_DT, INPUT_MESSAGE, Command
from demoforge.capture.teleop.session import TeleopSession
from demoforge.sim.web_scene import body_ids, body_poses, describe, xyzw
from demoforge import geometry as geo

WEB_DIR = Path(__file__).parent / "web"
MAX_MESSAGE_BYTES = 64 * 1024  # a hand frame is about 3 kB
RATE_PER_S = 240.0  # messages a tab may send per second on average (two hands at 90 Hz, keys, pad) ...
BURST = 480.0  # ... and at once
ERRORS_PER_S = 5.0  # error replies per second at most (a broken client is told, not flooded back)


@dataclass(eq=False)
class Client:
    """One connected tab: its socket, the newest frame and status waiting to be sent, its message budget."""

    ws: web.WebSocketResponse
    ident: int
    frame: str | None = None
    status: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    tokens: float = BURST
    refill: float = field(default_factory=time.monotonic)
    error_tokens: float = ERRORS_PER_S
    dropped: int = 0
    rejected: int = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refill) * RATE_PER_S)
        self.error_tokens = min(ERRORS_PER_S, self.error_tokens + (now - self.refill) * ERRORS_PER_S)
        self.refill = now
        if self.tokens < 1.0:
            self.dropped += 1
            return False
        self.tokens -= 1.0
        return True


class TeleopServer:
    """Serve ``session`` on ``host:port`` (TLS with ``ssl_context``) until ``stop`` or the session ends."""

    def __init__(self, session: TeleopSession, host: str = "127.0.0.1", port: int = 8765,
                 ssl_context: ssl.SSLContext | None = None, realtime: float = 1.0) -> None:
        self.session, self.host, self.port, self.ssl_context = session, host, port, ssl_context
        self.period = CONTROL_DT / realtime
        self.scene = {**describe(session.world.env.model), **operator_view(session)}
        self._bodies = body_ids(self.scene)
        self.clients: list[Client] = []
        self.driver: Client | None = None
        self._next_ident = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._done: asyncio.Event | None = None
        self._status_json = ""
        self.frames_sent = 0

    # ---- the control thread ---------------------------------------------------------------------
    def _control(self) -> None:
        session, env = self.session, self.session.world.env
        half = env.substeps // 2
        start = time.monotonic()
        k = 0
        try:
            while not self._stop.is_set():
                tick_start = start + k * self.period
                stepped = []

                def advance() -> None:
                    env.step_physics(half)
                    self._frame()
                    _sleep_until(tick_start + self.period / 2)
                    env.step_physics(env.substeps - half)
                    stepped.append(True)

                session.tick(advance)
                if not stepped:
                    self._frame()
                    _sleep_until(tick_start + self.period / 2)
                self._frame()
                self._status()
                if session.finished:
                    break
                k += 1
                if time.monotonic() > start + k * self.period + 0.5:  # fell far behind (a stall): do not race
                    start = time.monotonic() - k * self.period
                _sleep_until(start + k * self.period)
        finally:
            self._stop.set()
            if self._loop is not None and self._done is not None:
                self._loop.call_soon_threadsafe(self._done.set)

    def _frame(self) -> None:
        self._post("frame", json.dumps(frame_of(self.session, self._bodies)))

    def _status(self) -> None:
        text = json.dumps(self.session.status())
        if text != self._status_json:
            self._status_json = text
            self._post("status", text)

    def _post(self, kind: str, text: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._deliver, kind, text)
            except RuntimeError:  # the loop closed meanwhile (shutdown)
                pass

    # ---- the event loop -------------------------------------------------------------------------
    def _deliver(self, kind: str, text: str) -> None:
        for client in self.clients:
            setattr(client, kind, text)
            client.wake.set()

    async def _sender(self, client: Client) -> None:
        """Send each client only the newest status and frame: a slow tab skips frames, it never queues them."""
        ws = client.ws
        while not ws.closed:
            await client.wake.wait()
            client.wake.clear()
            for kind in ("status", "frame"):
                text = getattr(client, kind)
                setattr(client, kind, None)
                if text is not None and not ws.closed:
                    try:
                        await asyncio.wait_for(ws.send_str(text), timeout=5.0)
                    except (ConnectionError, asyncio.TimeoutError, RuntimeError):
                        await ws.close()
                        return
                    if kind == "frame":
                        self.frames_sent += 1

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=10.0)
        await ws.prepare(request)
        client = Client(ws, self._next_ident)
        self._next_ident += 1
        self.clients.append(client)
        if self.driver is None:
            self.driver = client
        sender = asyncio.create_task(self._sender(client))
        try:
            await ws.send_str(json.dumps({"type": "scene", **self.scene}))
            await self._tell_role(client)
            client.status = self._status_json or None
            client.wake.set()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._receive(client, message.data)
                elif message.type == WSMsgType.BINARY:
                    await self._error(client, "binary messages are not understood; send JSON text")
                elif message.type == WSMsgType.ERROR:
                    break
        except (ConnectionError, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            self.clients.remove(client)
            sender.cancel()
            if self.driver is client:
                self.driver = self.clients[0] if self.clients else None
                if not self._stop.is_set():
                    self.session.submit(Command(type="command", name="disconnect"))
                if self.driver is not None:
                    await self._tell_role(self.driver)
        return ws

    async def _receive(self, client: Client, text: str) -> None:
        if not client.allow():
            return
        try:
            msg = INPUT_MESSAGE.validate_python(json.loads(text))
        except (ValueError, TypeError, RecursionError) as exc:
            client.rejected += 1
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            await self._error(client, f"message refused: {detail[:200]}")
            return
        if isinstance(msg, Command) and msg.name == "take_control":
            previous, self.driver = self.driver, client
            if previous is not None and previous is not client:
                if not self._stop.is_set():
                    self.session.submit(Command(type="command", name="disconnect"))  # its demo ends unkept
                await self._tell_role(previous)
            await self._tell_role(client)
            return
        if client is not self.driver:
            await self._error(client, "another tab is driving; press 'take control' to drive from here")
            return
        if not self._stop.is_set():
            self.session.submit(msg)

    async def _error(self, client: Client, text: str) -> None:
        if client.error_tokens >= 1.0 and not client.ws.closed:
            client.error_tokens -= 1.0
            try:
                await client.ws.send_str(json.dumps({"type": "error", "message": text}))
            except (ConnectionError, RuntimeError):
                pass

    async def _tell_role(self, client: Client) -> None:
        if not client.ws.closed:
            try:
                await client.ws.send_str(json.dumps({"type": "role", "driver": client is self.driver}))
            except (ConnectionError, RuntimeError):
                pass

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-store"})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_static("/static", WEB_DIR, follow_symlinks=False)
        return app

    async def serve(self, on_ready: callable | None = None) -> None:
        """Run until the session ends or ``stop`` (SIGINT/SIGTERM end the session gracefully)."""
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context, reuse_address=True)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._loop.add_signal_handler(sig, self.stop)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                    pass
            thread = threading.Thread(target=self._control, name="teleop-control", daemon=True)
            thread.start()
            if on_ready is not None:
                on_ready(self)
            await self._done.wait()
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
            for client in list(self.clients):
                await client.ws.close()
        finally:
            self.session.close()
            await runner.cleanup()

    def stop(self) -> None:
        """End the session: a demo in progress is discarded, then the control thread stops."""
        if not self._stop.is_set():
            self.session.submit(Command(type="command", name="quit"))
            timer = threading.Timer(2.0, self._stop.set)  # if the control thread does not end, stop it anyway
            timer.daemon = True
            timer.start()


def frame_of(session: TeleopSession, bodies: np.ndarray) -> dict:
    """What the page draws now: the poses of ``bodies`` and each arm's commanded target and gripper."""
    mapper = session.mapper
    return {
        "type": "frame", "tick": session.tick_count, "ack": session.last_ack, "state": session.state,
        "step": session.recorder.t if session.recorder is not None else 0,
        "bodies": body_poses(session.world.env.data, bodies),
        "targets": [[round(float(v), 5) for v in (*t[:3, 3], *xyzw(geo.pose_to_quat(t)))] for t in mapper.targets],
        "grippers": [round(float(np.mean(g)), 4) for g in mapper.grippers],  # a hand: how closed, on average
    }


def operator_view(session: TeleopSession) -> dict:
    """Where the operator stands (world frame, on the floor): 35 cm behind the middle of the robot's arm bases."""
    bases = [arm.world_T_base[:3, 3] for arm in session.world.env.arms]
    x, y = min(b[0] for b in bases) - 0.35, sum(b[1] for b in bases) / len(bases)
    return {"operator": [round(float(x), 4), round(float(y), 4), 0.0], "arms": session.world.arm_names,
            "task": session.task.name, "description": session.task.description}


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
