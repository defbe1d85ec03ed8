"""seqcls: Bi-LSTM text sequence classifiers from one YAML file.

Importing this package must stay cheap: no TensorFlow or Keras here.
"""

from seqcls.version import __version__

__all__ = ["Classifier", "__version__", "load", "train"]


def __getattr__(name: str):
    # seqcls.load / seqcls.train / seqcls.Classifier, imported on first use only.
    if name in ("Classifier", "load", "train"):
        from seqcls import api

        return getattr(api, name)
    raise AttributeError(f"module 'seqcls' has no attribute {name!r}")
