"""Run one training in its own process for tests/test_distribute.py (TensorFlow's logical
devices and TF_CONFIG must be set before it starts) and save the final weights.

    python tests/distributed_worker.py CONFIG RUN_DIR WEIGHTS.npz [--cpus N] [key=value ...]
"""

import sys
from pathlib import Path

import tensorflow as tf

args = sys.argv[1:]
cpus = 1
if "--cpus" in args:
    at = args.index("--cpus")
    cpus = int(args[at + 1])
    del args[at : at + 2]
if cpus > 1:
    [cpu] = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpus)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from seqcls.config import load_config  # noqa: E402
from seqcls.train import train  # noqa: E402

config_path, run_dir, weights_path, *overrides = args


class SaveWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez(weights_path, *self.model.get_weights())


result = train(
    load_config(Path(config_path), overrides),
    Path(run_dir),
    report=print,
    callbacks=(SaveWeights(),),
)
