"""The ``annotate --ui`` server: the page, the session as JSON, each demo's frames, and saving.

A demo is rendered from its stored states the first time its frames are asked for, in one worker thread
(one render at a time: the machine's cores belong to other work too), and kept in memory as JPEG bytes.
Every request is answered: an unknown demo or frame is a 404, a body that is not an annotation file's
JSON or breaks its rules is a 400 with the loader's message, and the annotation file is written only
whole and only when every boundary in the request is valid.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from demoforge.capture.annotate_ui.session import AnnotationSession, Frames
from demoforge.errors import DemoforgeError, OutputError

WEB_DIR = Path(__file__).parent / "web"
MAX_BODY_BYTES = 1024 * 1024  # an annotation file of thousands of demos is far smaller
NO_STORE = {"Cache-Control": "no-store"}
KEEP_RENDERED = 16  # demos whose frames stay in memory (about 3 MB each at 320x240 and 150 steps)


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


class AnnotateServer:
    """Serve ``session`` on ``host:port`` until SIGINT/SIGTERM or ``stop``."""

    def __init__(self, session: AnnotationSession, host: str = "127.0.0.1", port: int = 8766) -> None:
        self.session, self.host, self.port = session, host, port
        self._renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="annotate-render")
        self._jobs: dict[str, asyncio.Future] = {}
        self._stop: asyncio.Event | None = None

    # ---- handlers --------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers=NO_STORE)

    async def _describe(self, request: web.Request) -> web.Response:
        return web.json_response(self.session.describe(), headers=NO_STORE)

    def _frames(self, request: web.Request) -> tuple[str, Frames]:
        """The demo a request names and its frames, rendering them in the background if not yet begun."""
        name = request.match_info["demo"]
        if name not in self.session.bounds:
            raise _error(web.HTTPNotFound, f"no demo {name!r} in {self.session.file}")
        cache = self.session.frames
        if name not in cache:
            for old in [n for n, f in cache.items() if f.finished][: max(0, len(cache) - KEEP_RENDERED + 1)]:
                del cache[old], self._jobs[old]  # the least recently asked for: rendered again if needed
            frames = cache[name] = Frames(self.session.bounds[name].length)
            loop = asyncio.get_running_loop()
            self._jobs[name] = loop.run_in_executor(self._renderer, self.session.render, name, frames)
        cache[name] = cache.pop(name)  # the most recently asked for last
        return name, cache[name]

    async def _frames_status(self, request: web.Request) -> web.Response:
        _, frames = self._frames(request)
        return web.json_response(frames.status(), headers=NO_STORE)

    async def _frame(self, request: web.Request) -> web.Response:
        name, frames = self._frames(request)
        index = int(request.match_info["index"])
        if index >= frames.total:
            raise _error(web.HTTPNotFound, f"demo {name} has steps 0 .. {frames.total - 1}; there is no frame {index}")
        await asyncio.shield(self._jobs[name])  # a client that goes away does not cancel the render
        if frames.error is not None:
            raise _error(web.HTTPInternalServerError, frames.error)
        return web.Response(body=frames.jpegs[index], content_type="image/jpeg", headers=NO_STORE)

    async def _save(self, request: web.Request) -> web.Response:
        try:
            raw = json.loads(await request.text())
        except (ValueError, RecursionError) as exc:  # also bytes that are not UTF-8
            raise _error(web.HTTPBadRequest, f"request: not valid JSON ({exc})") from None
        try:
            written = self.session.save(raw)
        except OutputError as exc:  # the request was fine; the file cannot be written there
            raise _error(web.HTTPInternalServerError, str(exc)) from None
        except DemoforgeError as exc:
            raise _error(web.HTTPBadRequest, str(exc)) from None
        return web.json_response({"path": str(self.session.out), "demos": written, "commands": self.session.commands()})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/api/session", self._describe)
        app.router.add_get("/api/demos/{demo}/frames", self._frames_status)
        app.router.add_get(r"/api/demos/{demo}/frames/{index:\d{1,9}}", self._frame)
        app.router.add_post("/api/save", self._save)
        app.router.add_static("/static", WEB_DIR, follow_symlinks=False)
        return app

    # ---- running ---------------------------------------------------------------------------------
    async def serve(self, on_ready: Callable[[AnnotateServer], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM (or ``stop``); a port in use raises OSError(EADDRINUSE)."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self.stop)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                    pass
            if on_ready is not None:
                on_ready(self)
            await self._stop.wait()
        finally:
            for frames in self.session.frames.values():
                frames.cancelled = True
            self._renderer.shutdown(wait=False, cancel_futures=True)
            await runner.cleanup()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
