"""TensorFlow's own log lines kept off the terminal, for the whole command.

TensorFlow's C++ logging (oneDNN's "E0000 ... only on platforms with AVX-512", CUDA
probing) writes at start-up and while models run, at error level too; it says nothing a
user can act on, reads like a failure and tears the live display. SEQCLS_TF_LOGS=1 leaves
it on. Standard library only: every command calls `quiet_tensorflow_logs` first, before
anything imports TensorFlow.
"""

from __future__ import annotations

import os
import sys

__all__ = [
    "TF_LOGS_VARIABLE",
    "import_tensorflow_quietly",
    "import_tensorflow_without_gpus",
    "quiet_tensorflow_logs",
    "tensorflow_logs_shown",
]

# Set to 1 to see TensorFlow's own log lines.
TF_LOGS_VARIABLE = "SEQCLS_TF_LOGS"


def tensorflow_logs_shown() -> bool:
    """Whether the user asked for TensorFlow's own log lines (SEQCLS_TF_LOGS=1)."""
    return os.environ.get(TF_LOGS_VARIABLE, "").strip() not in ("", "0")


def quiet_tensorflow_logs() -> None:
    """Keep TensorFlow's native log lines off stderr for the whole process: the level
    2 that TF_CPP_MIN_LOG_LEVEL is often set to still lets errors through; 3 drops every
    level. It is read once, when TensorFlow's C++ library loads, so this must run before
    any import of TensorFlow; the processes seqcls starts inherit it. With
    SEQCLS_TF_LOGS=1 nothing is changed."""
    if not tensorflow_logs_shown():
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe for GPUs with the C++ stderr silenced, and keep its
    logging quiet afterwards (quiet_tensorflow_logs; Python's `tensorflow` and `absl`
    loggers show errors only).

    Recent TensorFlow writes start-up lines (oneDNN, CUDA probing) from C++ before
    its log level applies; they say nothing actionable. Python exceptions still
    propagate. Set SEQCLS_TF_LOGS=1 to see them.
    """
    quiet_tensorflow_logs()
    if tensorflow_logs_shown():
        return
    if "tensorflow" not in sys.modules:
        _import_tensorflow_with_stderr_closed()
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "absl.logging" in sys.modules:  # absl's own logger class: only once absl made it
        logging.getLogger("absl").setLevel(logging.ERROR)


def _import_tensorflow_with_stderr_closed() -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        # Probes CUDA (which logs now) without starting the runtime, so that
        # runtime.device can still hide or configure GPUs afterwards.
        tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_without_gpus() -> None:
    """A smoke run uses the CPU only: TensorFlow starts with the GPUs hidden
    (CUDA_VISIBLE_DEVICES=-1, read when it probes them), and the variable is put back
    afterwards, so processes started later see the machine as it is."""
    previous = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    try:
        import_tensorflow_quietly()
    finally:
        if previous is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = previous
