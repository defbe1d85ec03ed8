"""Where and how training runs: device choice, GPU memory growth, mixed precision,
cuDNN eligibility of the recurrent layers, and the facts `seqcls doctor` reports.

TensorFlow is imported inside the functions that need it; `cudnn_blockers` reads the
config only, so `seqcls validate --config-only` and `seqcls summary` stay fast.
"""

from __future__ import annotations

import importlib.util
import os
import platform
from contextlib import contextmanager
from typing import Any

from seqcls.errors import ConfigError, DeviceError

# What Keras' TensorFlow backend checks before it runs an LSTM/GRU with the fused
# cuDNN kernel (keras/src/backend/tensorflow/rnn.py and the layers' inner_loop):
# tanh activation, sigmoid recurrent activation, no unrolling, a bias, GRU with
# reset_after, no recurrent dropout, a strictly right-padded mask without a fully
# masked row. seqcls fixes all of these except recurrent dropout, which is a setting;
# right padding and at least one real step per row are guaranteed by the pipeline
# (text.encode and layers.SequenceClip).
NO_GPU = (
    "runtime.device is gpu but TensorFlow sees no GPU; install the CUDA build "
    "(pip install 'seqcls[gpu]'), check `seqcls doctor` and nvidia-smi, or set "
    "runtime.device: auto (or cpu)"
)
CUDNN_CONDITIONS = (
    "tanh activation, sigmoid recurrent activation, no unrolling, use_bias, "
    "GRU reset_after, recurrent_dropout 0, right-padded masks, no empty rows"
)


def check_environment(config: Any) -> None:
    """What the config needs from the machine (optional packages, a GPU), checked before
    anything is written."""
    if config.output.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            "output.tensorboard is true but the tensorboard package is not installed; "
            "pip install 'seqcls[tensorboard]' (or tensorboard), or set output.tensorboard: false"
        )
    from seqcls.reporting import plots

    plots.wanted(config.output.plots)  # output.plots: on without matplotlib is an error
    if config.runtime.device == "gpu" and not physical_gpus():
        raise DeviceError(NO_GPU)


def cudnn_blockers(config: Any) -> list[str]:
    """The config settings that keep the recurrent layers off the cuDNN kernel (none: eligible)."""
    encoder = config.model.encoder
    blockers = []
    if encoder.recurrent_dropout > 0:
        blockers.append(
            f"model.encoder.recurrent_dropout is {encoder.recurrent_dropout:g} (cuDNN needs 0; "
            "use model.encoder.dropout instead)"
        )
    backward = encoder.backward
    if (
        encoder.bidirectional
        and backward is not None
        and backward.recurrent_dropout is not None
        and backward.recurrent_dropout > 0
        and backward.recurrent_dropout != encoder.recurrent_dropout
    ):
        blockers.append(
            f"model.encoder.backward.recurrent_dropout is {backward.recurrent_dropout:g} "
            "(cuDNN needs 0)"
        )
    return blockers


def recurrent_layers(model: Any) -> list[Any]:
    """Every LSTM/GRU layer of a Keras model, looking inside Bidirectional wrappers."""
    import keras

    found = []

    def visit(layer):
        if isinstance(layer, keras.layers.Bidirectional):
            visit(layer.forward_layer)
            visit(layer.backward_layer)
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            for inner in layer.layers:
                visit(inner)

    for layer in model.layers:
        visit(layer)
    return found


def layer_cudnn_blockers(layer: Any) -> list[str]:
    """Why Keras would not run this built LSTM/GRU layer with cuDNN (empty: it would)."""
    import keras

    cell = layer.cell
    reasons = []
    if cell.activation is not keras.activations.tanh:
        reasons.append("activation is not tanh")
    if cell.recurrent_activation is not keras.activations.sigmoid:
        reasons.append("recurrent_activation is not sigmoid")
    if layer.unroll:
        reasons.append("unroll is true")
    if not cell.use_bias:
        reasons.append("use_bias is false")
    if isinstance(layer, keras.layers.GRU) and not cell.reset_after:
        reasons.append("reset_after is false")
    if cell.recurrent_dropout:
        reasons.append(f"recurrent_dropout is {cell.recurrent_dropout:g}")
    if layer.use_cudnn is False:
        reasons.append("use_cudnn is False")
    return reasons


def cudnn_line(config: Any, gpu_visible: bool) -> str:
    """One line for the training header and `seqcls validate`."""
    blockers = cudnn_blockers(config)
    where = "on this GPU" if gpu_visible else "on a GPU"
    if blockers:
        return f"cuDNN: no, the recurrent layers cannot use the fused kernel {where}: " + "; ".join(
            blockers
        )
    return f"cuDNN: yes, the recurrent layers qualify for the fused kernel {where}"


def physical_gpus() -> list[Any]:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def select_device(runtime: Any) -> str:
    """Apply runtime.device before TensorFlow's runtime starts; return what will be used.

    cpu hides the GPUs; gpu fails unless one is visible; every visible GPU gets memory
    growth (allocate as needed rather than all memory up front).
    """
    import tensorflow as tf

    gpus = physical_gpus()
    if runtime.device == "gpu" and not gpus:
        raise DeviceError(NO_GPU)
    if runtime.device == "cpu" and gpus:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # the runtime already started in this process
            if tf.config.list_logical_devices("GPU"):
                raise DeviceError(
                    "runtime.device is cpu but TensorFlow had already started on the GPU in "
                    "this process; set CUDA_VISIBLE_DEVICES= (empty) instead"
                ) from None
        return "CPU"
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # already initialised: keep its setting
            pass
    visible = tf.config.get_visible_devices("GPU")
    if visible:
        names = [gpu_name(device) for device in visible]
        return ", ".join(names)
    return "CPU"


def gpu_name(device: Any) -> str:
    import tensorflow as tf

    try:
        details = tf.config.experimental.get_device_details(device)
    except (ValueError, RuntimeError):
        details = {}
    return details.get("device_name") or device.name


@contextmanager
def precision_policy(name: str):
    """Set Keras' global dtype policy for the models built inside, restore it after."""
    import keras

    previous = keras.config.dtype_policy().name
    policy = "float32" if name == "none" else name
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextmanager
def process_settings():
    """Restore, after a run, the process-wide state a run sets: the Python, NumPy,
    TensorFlow and Keras random seeds (`seed_run`), TensorFlow's op determinism
    (training.deterministic) and Keras' dtype policy. A library caller that trains a
    run and then does other work finds these as they were. Visible devices cannot be
    restored: TensorFlow fixes them when its runtime starts (runtime.device applies to
    the rest of the process)."""
    import random

    import keras
    import numpy as np
    from keras.src.backend.common import global_state
    from tensorflow.python.eager import context
    from tensorflow.python.framework import config as tf_framework

    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_seed = context.global_seed()
    keras_seed = global_state.get_global_attribute("global_random_seed")
    keras_generator = global_state.get_global_attribute("global_seed_generator")
    determinism = tf_framework.is_op_determinism_enabled()
    policy = keras.config.dtype_policy().name
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        context.set_global_seed(tf_seed)
        global_state.set_global_attribute("global_random_seed", keras_seed)
        global_state.set_global_attribute("global_seed_generator", keras_generator)
        if not determinism and tf_framework.is_op_determinism_enabled():
            # No public switch back (tf.config.experimental has enable_ only).
            tf_framework.disable_op_determinism()
        keras.config.set_dtype_policy(policy)


def seed_run(config: Any) -> None:
    """Seed every random generator from config.seed, and turn on TensorFlow's op
    determinism when training.deterministic asks (process_settings restores both)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    if config.training.deterministic:
        tf.config.experimental.enable_op_determinism()


def mixed_precision_advice(gpus_details: list[dict[str, Any]]) -> str:
    """Whether mixed precision pays off on the GPUs described (get_device_details dicts)."""
    if not gpus_details:
        return (
            "none: on a CPU, half precision is emulated and slower; keep "
            "runtime.mixed_precision: none"
        )
    capabilities = [details.get("compute_capability") for details in gpus_details]
    if all(isinstance(c, tuple) and c >= (8, 0) for c in capabilities):
        return "mixed_bfloat16 or mixed_float16: the GPUs have tensor cores with bfloat16 (compute capability 8.0+)"
    if all(isinstance(c, tuple) and c >= (7, 0) for c in capabilities):
        return "mixed_float16: the GPUs have float16 tensor cores (compute capability 7.x)"
    return "none: these GPUs lack tensor cores (compute capability below 7.0); half precision would not be faster"


def doctor_report() -> dict[str, Any]:
    """Versions, devices, CUDA/cuDNN as TensorFlow reports them, and advice."""
    import keras
    import numpy as np
    import tensorflow as tf

    from seqcls.version import __version__

    build = dict(tf.sysconfig.get_build_info())
    gpus = physical_gpus()
    gpu_details = []
    for device in gpus:
        try:
            details = dict(tf.config.experimental.get_device_details(device))
        except (ValueError, RuntimeError):
            details = {}
        gpu_details.append(
            {
                "name": device.name,
                "device_name": details.get("device_name"),
                "compute_capability": details.get("compute_capability"),
            }
        )
    try:
        import jax  # noqa: F401

        jax_version = jax.__version__
    except ImportError:
        jax_version = None
    return {
        "versions": {
            "seqcls": __version__,
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "jax": jax_version,
        },
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "keras_backend": keras.backend.backend(),
        "built_with_cuda": tf.test.is_built_with_cuda(),
        "cuda_version": build.get("cuda_version"),
        "cudnn_version": build.get("cudnn_version"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpus": [
            {
                **details,
                "compute_capability": ".".join(map(str, details["compute_capability"]))
                if details["compute_capability"]
                else None,
            }
            for details in gpu_details
        ],
        "mixed_precision": mixed_precision_advice(gpu_details),
        "tf_config": os.environ.get("TF_CONFIG"),
    }
