"""The Keras model: the custom layers, the builder of the core, training and
inference models, the names of their outputs, and `seqcls summary`'s description."""
