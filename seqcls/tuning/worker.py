"""The extra processes of `seqcls tune --jobs N`: N-1 workers, each
`python -m seqcls.tuning.worker DIR --job K`, run trials of the same study (DIR/study.db)
beside the main process until the study has its trials.

The workers inherit the main process's lock on the tune directory (its descriptor), so
the directory stays locked until the last of them has ended: a `--resume` right after the
main process was killed with SIGKILL is refused while a worker is still finishing,
rather than running trials beside it. They run in their own process group, so a Ctrl-C
at the terminal reaches the main process only; it waits for them, and when it stops
early it sends each one signal (SIGINT after a Ctrl-C, else SIGTERM): a second signal
would make a worker stop at once, without its clean-up. A worker whose main process is
gone (killed with SIGKILL) stops its trial within a second, recorded as failed, and
exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def worker_command(tune_dir: Path, job: int, deadline: float | None, mode: str) -> list[str]:
    command = [sys.executable, "-m", "seqcls.tuning.worker", str(tune_dir), "--job", str(job)]
    command += ["--mode", mode]
    if deadline is not None:
        command += ["--deadline", repr(deadline)]
    return command


def start_workers(
    tune_dir: Path,
    count: int,
    deadline: float | None,
    mode: str,
    gpus: int = 0,
    lock: Any = None,
) -> list:
    """Start `count` workers; `mode` is their progress (plain or quiet). `lock` (the tune
    directory's RunLock) is inherited by each. With several GPUs, job K sees only the
    K-th (modulo their number; the main process trains on the first, TensorFlow's
    default), so parallel trials do not all share one GPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(index) for index in range(gpus)]
    descriptor = getattr(lock, "descriptor", None)
    inherited = (descriptor,) if descriptor is not None else ()
    workers = []
    for job in range(1, count + 1):
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if gpus > 1 and len(devices) > 1:
            environment["CUDA_VISIBLE_DEVICES"] = devices[job % len(devices)]
        workers.append(
            subprocess.Popen(
                worker_command(tune_dir, job, deadline, mode),
                env=environment,
                pass_fds=inherited,
                start_new_session=True,  # out of the terminal's process group (Ctrl-C)
            )
        )
    return workers


def stop_workers(workers: list, signum: int | None) -> list[int]:
    """Wait for the workers, after sending each running one `signum` (once) if given;
    their exit codes."""
    if signum is not None:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)
    return [worker.wait() for worker in workers]


def _watch_parent() -> None:
    """SIGTERM this process once its parent is gone (the main process was killed)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="seqcls-parent-watch", daemon=True).start()


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqcls.tuning.worker")
    parser.add_argument("tune_dir", type=Path)
    parser.add_argument("--job", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=None)
    parser.add_argument("--mode", choices=("plain", "quiet"), default="plain")
    args = parser.parse_args(argv)
    # Outside training (which routes signals itself), SIGTERM unwinds: the trial under
    # way is told FAIL on the way out.
    signal.signal(signal.SIGTERM, _terminated)
    _watch_parent()

    def report(message: str) -> None:
        print(f"[job {args.job}] {message}", file=sys.stderr, flush=True)

    from seqcls.errors import SeqclsError
    from seqcls.session import import_tensorflow_quietly
    from seqcls.tuning.progress import make_progress
    from seqcls.tuning.space import short_names
    from seqcls.tuning.study import load_study
    from seqcls.tuning.trials import run_trials

    try:
        import_tensorflow_quietly()
        study, search = load_study(args.tune_dir, worker=args.job)
        names = short_names(search.space.keys)
        progress = make_progress(args.mode, report, search.trials, search.metric, names)
        run_trials(
            study,
            search,
            args.tune_dir,
            deadline=args.deadline,
            progress=progress,
            report=report,
            command=sys.argv,
        )
    except SeqclsError as error:
        report(f"error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
