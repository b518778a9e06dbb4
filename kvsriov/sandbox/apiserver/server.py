"""Running the emulated API server: in a background thread, or in the foreground.

The server owns its own asyncio loop in a thread so synchronous tests and
tools (the ``kubernetes`` client, kubectl subprocesses, an embedded kopf in
another thread) can use it without sharing a loop with it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from .app import make_app
from .crds import THIRDPARTY_DIR, load_crd_files
from .operations import Operations
from .resources import Registry
from .store import Store

log = logging.getLogger(__name__)


class EmulatedApiServer:
    """An in-memory Kubernetes API server speaking real HTTP on 127.0.0.1.

    At start it serves the built-in kinds, the namespaces every cluster has,
    the CRDs found in ``crd_dirs`` and the third-party CRDs it ships
    (Multus, KubeVirt, kopf peering).
    """

    def __init__(self, crd_dirs: list[Path] | None = None, port: int = 0, history_size: int = 10000) -> None:
        self.crd_dirs = [Path(d) for d in crd_dirs or []]
        self.port = port
        self.ops = Operations(Registry(), Store(history_size))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self.port}"

    async def _install_initial_objects(self) -> None:
        await self.ops.ensure_namespaces()
        for crd in load_crd_files([THIRDPARTY_DIR, *self.crd_dirs]):
            await self.ops.install_crd(crd)
        # A watch cache starts empty: resourceVersions from before the start are "too old" (410),
        # as on a real server asked for resourceVersion 1.
        self.ops.store.compact_history()

    async def _start_async(self) -> None:
        await self._install_initial_objects()
        self._runner = web.AppRunner(make_app(self.ops), shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # the bound socket tells which port 0 became
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def start(self) -> EmulatedApiServer:
        """Start serving in a background thread; returns once the port listens."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        started: Future[None] = Future()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_async())
            except BaseException as exc:
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(None)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="kvsriov-apiserver", daemon=True)
        self._thread.start()
        started.result(timeout=30)
        return self

    def stop(self) -> None:
        """Stop serving: open watches end, then the loop and thread finish."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=30)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._loop = self._thread = self._runner = None

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig dict: one cluster, user and context, pointing at :attr:`url`."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": "kvsriov-sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "kvsriov-sandbox", "user": {"token": "sandbox-token"}}],
            "contexts": [
                {
                    "name": "kvsriov-sandbox",
                    "context": {
                        "cluster": "kvsriov-sandbox",
                        "user": "kvsriov-sandbox",
                        "namespace": "default",
                    },
                }
            ],
            "current-context": "kvsriov-sandbox",
        }

    def write_kubeconfig(self, path: Path | str) -> Path:
        """Write :meth:`kubeconfig` to ``path`` and return it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        return path

    def __enter__(self) -> EmulatedApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(port: int, kubeconfig_out: Path | None, crd_dirs: list[Path]) -> None:
    """Run the server in the foreground until SIGINT or SIGTERM."""
    server = EmulatedApiServer(crd_dirs=crd_dirs, port=port)
    server.start()
    if kubeconfig_out is None:
        kubeconfig_out = Path(tempfile.mkdtemp(prefix="kvsriov-apiserver-")) / "kubeconfig"
    path = server.write_kubeconfig(kubeconfig_out)
    print(f"kvsriov emulated API server listening on {server.url}", flush=True)
    print(f"kubeconfig: {path}  (export KUBECONFIG={path})", flush=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
