"""seqcls: Bi-LSTM text sequence classifiers from one YAML file.

Importing this package must stay cheap: no TensorFlow or Keras here.
"""

__version__ = "0.1.0"
