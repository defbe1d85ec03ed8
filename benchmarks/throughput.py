"""Training throughput: seqcls's input pipeline and model against the hand-written Keras
script a user would write for the same model, measured in the same process.

Both train the same architecture (Embedding 128, Bi-LSTM 128 concat, additive attention,
softmax; batch 32, Adam 1e-3) on the same rows, for EPOCHS epochs; the first epoch
(tracing) is dropped and the median time of the others gives samples/s.

The reference is the tutorial pattern: TextVectorization padded to a fixed length
(seqcls's own max_length, so both see the same tokens), applied per batch in tf.data
every epoch, Embedding(mask_zero=True), and the attention written out with
Dense(1, tanh) -> softmax -> RepeatVector/Permute -> Multiply -> sum over time.

    python benchmarks/throughput.py banking77 [ROWS] [EPOCHS]
    python benchmarks/throughput.py austen ROWS [EPOCHS]    (needs ../shared/datasets/austen
                                                            or data/austen/train.csv)
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "banking77": [ROOT / "data/banking77/train.csv"],
    "austen": [ROOT / "data/austen/train.csv", ROOT.parent / "shared/datasets/austen/train.csv"],
}
UNITS, DIM, BATCH = 128, 128, 32


def load_rows(name: str, limit: int | None):
    path = next((p for p in SOURCES[name] if p.is_file()), None)
    if path is None:
        sys.exit(f"no data for {name}: looked in {[str(p) for p in SOURCES[name]]}")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    return rows[:limit] if limit else rows


class EpochTimer:
    def __init__(self):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_begin(inner, logs=None):
                inner.times = []

            def on_epoch_begin(inner, epoch, logs=None):
                inner.start = time.perf_counter()

            def on_epoch_end(inner, epoch, logs=None):
                inner.times.append(time.perf_counter() - inner.start)

        self.callback = Timer()


def seqcls_run(texts, targets, num_labels, epochs):
    import keras

    from seqcls import text
    from seqcls.config import Config
    from seqcls.model import build_core_model, training_model

    config = Config.model_validate(
        {
            "data": {"train": "unused.csv"},
            "model": {"embedding": {"dim": DIM}, "encoder": {"units": UNITS}},
            "training": {"batch_size": BATCH},
        }
    )
    vocabulary = text.build_vocabulary(texts, config.preprocessing)
    vectorizer = text.make_vectorizer(config.preprocessing, vocabulary.tokens, ragged=True)
    ids = text.encode(vectorizer, texts, vocabulary.max_length)
    dataset = text.training_dataset(ids, targets, BATCH, seed=0)
    model = training_model(build_core_model(config, vocabulary.size, num_labels))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    timer = EpochTimer().callback
    model.fit(dataset, epochs=epochs, callbacks=[timer], verbose=0)
    return timer.times, vocabulary


def reference_run(texts, targets, num_labels, epochs, max_length, max_tokens):
    import keras
    import tensorflow as tf
    from keras import layers

    vectorize = layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=max_length)
    vectorize.adapt(texts)
    dataset = (
        tf.data.Dataset.from_tensor_slices((texts, targets))
        .shuffle(len(texts), seed=0)
        .batch(BATCH)
        .map(lambda x, y: (vectorize(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    inputs = keras.Input(shape=(max_length,), dtype="int64")
    embedded = layers.Embedding(max_tokens, DIM, mask_zero=True)(inputs)
    hidden = layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True))(embedded)
    scores = layers.Flatten()(layers.Dense(1, activation="tanh")(hidden))
    weights = layers.Activation("softmax")(scores)
    weights = layers.Permute([2, 1])(layers.RepeatVector(2 * UNITS)(weights))
    context = keras.ops.sum(layers.Multiply()([hidden, weights]), axis=1)
    outputs = layers.Dense(num_labels, activation="softmax")(context)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    timer = EpochTimer().callback
    model.fit(dataset, epochs=epochs, callbacks=[timer], verbose=0)
    return timer.times


def main() -> None:
    import numpy as np
    import tensorflow as tf

    name = sys.argv[1] if len(sys.argv) > 1 else "banking77"
    limit = int(sys.argv[2]) if len(sys.argv) > 2 and int(sys.argv[2]) > 0 else None
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    rows = load_rows(name, limit)
    texts = [text for text, _ in rows]
    labels = sorted({label for _, label in rows})
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[label] for _, label in rows], dtype=np.int64)

    seqcls_times, vocabulary = seqcls_run(texts, targets, len(labels), epochs)
    reference_times = reference_run(
        texts, targets, len(labels), epochs, vocabulary.max_length, vocabulary.size
    )
    ours = len(texts) / statistics.median(seqcls_times[1:])
    theirs = len(texts) / statistics.median(reference_times[1:])
    result = {
        "dataset": name,
        "rows": len(texts),
        "max_length": vocabulary.max_length,
        "length_percentiles": vocabulary.train_length_percentiles,
        "epochs_timed": epochs - 1,
        "seqcls_epoch_seconds": [round(t, 2) for t in seqcls_times],
        "reference_epoch_seconds": [round(t, 2) for t in reference_times],
        "seqcls_samples_per_second": round(ours, 1),
        "reference_samples_per_second": round(theirs, 1),
        "ratio": round(ours / theirs, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "tensorflow": tf.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
