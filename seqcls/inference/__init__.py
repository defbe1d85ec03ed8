"""Using a finished run: loading it, predicting and evaluating (predict), exporting
it as a SavedModel or ONNX (export)."""
