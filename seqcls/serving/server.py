"""Run the application: bind the socket, serve with uvicorn, drain and stop on a signal.

The socket is bound here, before uvicorn starts, so that a port in use is a clear error,
`--port 0` picks a free port and the URL printed is the real one. SIGTERM and SIGINT stop
accepting connections, let the requests already accepted finish (their batches run),
then the command exits 0.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import signal
import socket
from collections.abc import Callable
from contextlib import contextmanager

from seqcls.errors import UsageError
from seqcls.serving.settings import ENVIRONMENT_KEY, ServeSettings

NEEDED = {"fastapi": "FastAPI", "uvicorn": "uvicorn", "prometheus_client": "prometheus-client"}
DRAIN_SECONDS = 30  # the longest a stop waits for requests already accepted


def require_packages() -> None:
    missing = [name for module, name in NEEDED.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise UsageError(f"seqcls serve needs {', '.join(missing)}: pip install 'seqcls[serve]'")


def check_run(settings: ServeSettings) -> None:
    """The run directory's own files, checked before the port is taken (no TensorFlow):
    the same errors as `seqcls predict` for a missing or damaged run."""
    from seqcls.inference.predict import check_run_task
    from seqcls.run import artifacts, readers

    run_dir = artifacts.require_run_dir(settings.run_dir)
    config = readers.read_run_config(run_dir)
    labels = readers.read_labels(run_dir)
    check_run_task(run_dir, config, labels["task"], labels["labels"])
    readers.read_vocabulary(run_dir)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # protocol says TCP; without it every response waits 40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        why = {
            errno.EADDRINUSE: f"port {port} is in use on {host}; stop what uses it or choose "
            "another with --port (--port 0 picks a free one)",
            errno.EADDRNOTAVAIL: f"{host} is not an address of this machine; use --host "
            "127.0.0.1 (this machine only) or the address of one of its interfaces",
            errno.EACCES: f"port {port} needs privileges on this machine; use a port above 1023",
        }.get(error.errno, f"cannot listen on {host}:{port}: {error.strerror}")
        raise UsageError(why) from None
    except socket.gaierror as error:
        sock.close()
        raise UsageError(f"--host {host!r}: {error.strerror}") from None
    # Listening from now on: a client that connects before uvicorn has started waits in
    # the backlog instead of being refused.
    sock.listen(2048)
    sock.set_inheritable(True)  # --workers N: the worker processes accept on it
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def _quiet_stop_signals():
    """uvicorn handles SIGINT/SIGTERM while it serves, then raises the signal again for
    the handler that was there before; a no-op here makes a drained stop exit 0."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda number, frame: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(settings: ServeSettings, report: Callable[[str], None] = print) -> None:
    """Serve until SIGINT/SIGTERM. A model that cannot be loaded stops the server and
    raises the error `seqcls predict` would."""
    require_packages()
    settings.check()
    check_run(settings)
    import uvicorn

    sock = bind(settings.host, settings.port)
    address = url(sock)
    options = dict(
        log_level="info" if settings.access_log else "warning",
        access_log=settings.access_log,
        timeout_graceful_shutdown=DRAIN_SECONDS,
        lifespan="on",
    )
    report(
        f"serving {settings.run_dir} on {address} (API docs: {address}/docs; /readyz says "
        "when the model is loaded); Ctrl-C or SIGTERM stops it after the requests in flight"
    )
    try:
        if settings.workers > 1:
            from uvicorn.supervisors import Multiprocess

            os.environ[ENVIRONMENT_KEY] = settings.to_environment()
            config = uvicorn.Config(
                "seqcls.serving.app:from_environment",
                factory=True,
                workers=settings.workers,
                **options,
            )
            with _quiet_stop_signals():
                Multiprocess(config, sockets=[sock]).run()
            report("stopped")
            return
        from seqcls.serving.app import create_app

        failures: list[BaseException] = []
        server: uvicorn.Server | None = None

        def failed(error: BaseException) -> None:
            failures.append(error)
            if server is not None:
                server.should_exit = True

        def ready(labels: int) -> None:
            report(f"ready: the model is loaded and warm ({labels} labels)")

        app = create_app(settings, on_failure=failed, on_ready=ready)
        server = uvicorn.Server(uvicorn.Config(app, **options))
        with _quiet_stop_signals():
            server.run(sockets=[sock])
        if failures:
            raise failures[0]
        report("stopped")
    finally:
        sock.close()
