"""Artifacts are written atomically and loaded safely."""

import shutil

import keras
import numpy as np
import pytest

from seqcls.errors import DataError, UsageError
from seqcls.run import artifacts


def test_artifacts_failed_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "metrics.json"
    artifacts.write_json(target, {"accuracy": 0.9})
    with pytest.raises(OSError, match="disk full"):
        with artifacts.atomic_path(target) as temporary:
            temporary.write_text('{"accuracy": 0.', encoding="utf-8")  # half written
            raise OSError(28, "disk full")
    assert artifacts.read_json(target) == {"accuracy": 0.9}
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_artifacts_truncated_model_is_reported_as_corrupt(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    path = tmp_path / "model.keras"
    artifacts.save_model(model, path)
    assert artifacts.load_model(path) is not None
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="not a readable Keras model"):
        artifacts.load_model(path)


def test_artifacts_model_with_lambda_is_refused(tmp_path):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(DataError, match="asks to run arbitrary code"):
        artifacts.load_model(path)
    # The refusal is not a side effect of a broken file: unsafe loading works.
    model = keras.models.load_model(path, safe_mode=False)
    np.testing.assert_allclose(model(np.ones((1, 3), "float32")), 2.0)


def test_artifacts_missing_model_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="model file not found"):
        artifacts.load_model(tmp_path / "nope.keras")
    shutil.rmtree(tmp_path)
