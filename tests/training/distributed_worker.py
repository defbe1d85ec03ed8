"""Run one training in its own process for tests/training/test_distribute.py (TensorFlow's logical
devices and TF_CONFIG must be set before it starts) and save the final weights.

    python tests/training/distributed_worker.py CONFIG RUN_DIR WEIGHTS.npz [--cpus N] [key=value ...]

Options for the interrupt and resume tests: --sigint-in-epoch N (this process sends itself
SIGINT after the first batch of epoch N), --kill-after-epoch N
(SIGKILL after epoch N), --resume (continue RUN_DIR). A seqcls error exits with its code.
"""

import os
import signal
import sys
from pathlib import Path

import tensorflow as tf

args = sys.argv[1:]
cpus = 1
if "--cpus" in args:
    at = args.index("--cpus")
    cpus = int(args[at + 1])
    del args[at : at + 2]


def option(name):
    if name not in args:
        return 0
    at = args.index(name)
    value = int(args[at + 1])
    del args[at : at + 2]
    return value


sigint_in_epoch = option("--sigint-in-epoch")
kill_after_epoch = option("--kill-after-epoch")
resume = "--resume" in args
if resume:
    args.remove("--resume")
if cpus > 1:
    [cpu] = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpus)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from seqcls.config import load_config  # noqa: E402
from seqcls.errors import SeqclsError  # noqa: E402
from seqcls.training.train import train  # noqa: E402

config_path, run_dir, weights_path, *overrides = args


class SaveWeights(keras.callbacks.Callback):
    epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == sigint_in_epoch and batch == 0:
            os.kill(os.getpid(), signal.SIGINT)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == kill_after_epoch:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_end(self, logs=None):
        np.savez(weights_path, *self.model.get_weights())


try:
    result = train(
        load_config(Path(config_path), overrides),
        Path(run_dir),
        report=print,
        callbacks=(SaveWeights(),),
        resume=resume,
    )
except SeqclsError as error:
    print(f"error: {error}", flush=True)
    sys.exit(error.exit_code)
