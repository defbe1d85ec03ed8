"""Device choice, mixed precision, cuDNN eligibility (checked against real Keras layers) and
`seqcls doctor`."""

import json

import keras
import numpy as np
import pytest
from conftest import cli_train
from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.config import load_config
from seqcls.modeling import build as model_lib
from seqcls.training import runtime

runner = CliRunner()


@pytest.mark.parametrize(
    "overrides, blocked",
    [
        ([], False),
        (["model.encoder.cell=gru"], False),
        (["model.encoder.dropout=0.3"], False),  # input dropout is applied outside the kernel
        (["model.encoder.recurrent_dropout=0.2"], True),
        (["model.encoder.cell=gru", "model.encoder.recurrent_dropout=0.1"], True),
        (["model.encoder.backward={recurrent_dropout: 0.2}"], True),
        (["model.encoder.backward={cell: gru, units: 4}"], False),
        (["model.encoder.bidirectional=false", "model.encoder.num_layers=2"], False),
    ],
)
def test_cudnn_verdict_from_the_config_matches_the_built_layers(tiny_config, overrides, blocked):
    config = load_config(tiny_config, overrides)
    core = model_lib.build_core_model(config, 40, 3)
    layers = runtime.recurrent_layers(core)
    assert layers, "the encoder's recurrent layers were not found"
    # What Keras itself would decide, layer by layer, against what the config says.
    layer_blocked = any(runtime.layer_cudnn_blockers(layer) for layer in layers)
    assert layer_blocked == blocked
    assert bool(runtime.cudnn_blockers(config)) == blocked
    line = runtime.cudnn_line(config, gpu_visible=False)
    assert line.startswith("cuDNN: no") == blocked
    if blocked:
        assert "recurrent_dropout" in line


def test_layer_check_names_settings_seqcls_never_uses():
    layer = keras.layers.LSTM(4, activation="relu", unroll=True, use_bias=False)
    layer.build((None, 3, 2))
    reasons = runtime.layer_cudnn_blockers(layer)
    assert {"activation is not tanh", "unroll is true", "use_bias is false"} <= set(reasons)
    gru = keras.layers.GRU(4, reset_after=False)
    gru.build((None, 3, 2))
    assert runtime.layer_cudnn_blockers(gru) == ["reset_after is false"]


def test_validate_reports_cudnn_eligibility(tiny_config):
    result = runner.invoke(
        app,
        [
            "validate",
            str(tiny_config),
            "--config-only",
            "--set",
            "model.encoder.recurrent_dropout=0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "cuDNN: no" in result.output and "model.encoder.recurrent_dropout is 0.1" in result.output
    )
    result = runner.invoke(app, ["validate", str(tiny_config), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cudnn_blockers"] == []


def test_gpu_required_without_a_gpu_fails_before_writing(tiny_config, tmp_path):
    if runtime.physical_gpus():
        pytest.skip("this machine has a GPU")
    run_dir = tmp_path / "run"
    result = runner.invoke(
        app,
        ["train", str(tiny_config), "--output-dir", str(run_dir), "--set", "runtime.device=gpu"],
    )
    assert result.exit_code == 5, result.output
    assert "runtime.device is gpu" in result.output and "seqcls[gpu]" in result.output
    assert not run_dir.exists()


def test_mixed_float16_computes_in_half_precision_with_a_float32_output(tiny_config):
    config = load_config(tiny_config, ["runtime.mixed_precision=mixed_float16"])
    with runtime.precision_policy(config.runtime.mixed_precision):
        core = model_lib.build_core_model(config, 40, 3)
        classifier = model_lib.training_model(core)
    assert keras.config.dtype_policy().name == "float32"  # restored
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # Keras wraps the optimizer so float16 gradients do not underflow.
    assert isinstance(classifier.optimizer, keras.optimizers.LossScaleOptimizer)
    [lstm, *_] = runtime.recurrent_layers(core)
    assert lstm.compute_dtype == "float16" and lstm.variable_dtype == "float32"
    ids = np.array([[2, 3, 4, 0], [5, 0, 0, 0]], dtype="int64")
    probabilities = core(ids)[model_lib.PROBABILITIES]
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    np.testing.assert_allclose(np.sum(np.asarray(probabilities), axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_training_in_mixed_bfloat16_saves_a_working_model(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    result = cli_train(
        tiny_config, run_dir, "runtime.mixed_precision=mixed_bfloat16", "training.epochs=6"
    )
    assert result.exit_code == 0, result.output
    assert "precision mixed_bfloat16" in result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.6  # three separable intents are learned
    assert keras.config.dtype_policy().name == "float32"


def test_doctor_reports_versions_devices_and_advice():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["versions"]["tensorflow"] and facts["versions"]["keras"] == keras.__version__
    assert facts["keras_backend"] == "tensorflow"
    if not facts["gpus"]:
        assert facts["mixed_precision"].startswith("none")
    table = runner.invoke(app, ["doctor"])
    assert table.exit_code == 0 and "mixed precision" in table.output


def test_mixed_precision_advice_follows_compute_capability():
    assert runtime.mixed_precision_advice([{"compute_capability": (9, 0)}]).startswith(
        "mixed_bfloat16"
    )
    assert runtime.mixed_precision_advice([{"compute_capability": (7, 5)}]).startswith(
        "mixed_float16"
    )
    assert runtime.mixed_precision_advice([{"compute_capability": (6, 1)}]).startswith("none")


@pytest.mark.slow  # a mixed-precision training: about 6 s
def test_a_run_puts_process_wide_settings_back(tiny_config, tmp_path):
    """A library caller who trains a deterministic mixed-precision run finds the seeds,
    op determinism and dtype policy as they were (only visible devices stay set)."""
    import random

    from tensorflow.python.framework import config as tf_framework

    from seqcls.training.train import train

    random.seed(1234)
    np.random.seed(4321)
    expected = random.random(), np.random.random()
    random.seed(1234)
    np.random.seed(4321)
    keras.config.set_dtype_policy("float32")
    assert not tf_framework.is_op_determinism_enabled()
    config = load_config(
        tiny_config,
        [
            "training.epochs=1",
            "training.deterministic=true",
            "runtime.mixed_precision=mixed_bfloat16",
        ],
    )
    train(config, tmp_path / "run", report=lambda message: None)
    assert not tf_framework.is_op_determinism_enabled()
    assert keras.config.dtype_policy().name == "float32"
    assert (random.random(), np.random.random()) == expected
