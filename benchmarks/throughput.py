"""Training throughput and time-to-accuracy: seqcls's input pipeline and model against the
hand-written Keras script a user would write for the same model, in the same process.

Both train the same architecture (Embedding 128, Bi-LSTM 128 concat, additive attention,
softmax; batch 32, Adam 1e-3, no dropout) on the same training rows for EPOCHS epochs.
After each epoch (not timed) both are scored on the dev and test splits. Reported:

- samples/s: training rows / median seconds of epochs 2.. (the first epoch traces);
- time to accuracy: setup (vocabulary, ids, model) plus the training seconds until the
  dev accuracy first reaches the target, the lower of the two runs' best dev accuracies
  (an accuracy both reach), and the ratio of the two times;
- test accuracy at each run's best dev epoch.

The reference is the tutorial pattern: TextVectorization padded to a fixed length
(seqcls's own max_length, so both see the same tokens), applied per batch in tf.data
every epoch, Embedding(mask_zero=True), and the attention written out with
Dense(1, tanh) -> Flatten -> softmax -> RepeatVector/Permute -> Multiply -> sum over time
(Flatten drops the mask, so that softmax also weighs padded steps, as in the tutorials).

    python benchmarks/throughput.py banking77|austen [--rows N] [--epochs N] [--json OUT]
        [--no-bucketing] [--seqcls-pooling mean|max|last] [--seqcls-only]   (checks)
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import ROOT, emit, json_destination  # noqa: E402

UNITS, DIM, BATCH, EVAL_BATCH = 128, 128, 32, 128


def load_split(name: str, split: str, limit: int | None = None):
    path = ROOT / f"data/{name}/{split}.csv"
    if not path.is_file():
        sys.exit(f"{path}: missing (the repository ships data/{name}/{split}.csv)")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    return rows[:limit] if limit else rows


def fit_with_curve(model, dataset, scored: dict, epochs: int, start: float) -> dict:
    """Compile (Adam 1e-3), then train for `epochs`, timing each epoch and, after it
    (untimed), scoring accuracy on each dataset in `scored`. Setup: seconds from `start`
    to the first epoch."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    setup = time.perf_counter() - start

    class Curve(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self.scores: list[dict[str, float]] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            self.scores.append(
                {
                    split: float(self.model.evaluate(data, verbose=0, return_dict=True)["accuracy"])
                    for split, data in scored.items()
                }
            )

    curve = Curve()
    model.fit(dataset, epochs=epochs, callbacks=[curve], verbose=0)
    return {"setup_seconds": setup, "epoch_seconds": curve.seconds, "scores": curve.scores}


def seqcls_run(
    splits, num_labels: int, epochs: int, bucketing: bool = True, seed: int = 0, attention=None
) -> dict:
    import keras

    from seqcls import text
    from seqcls.config import Config
    from seqcls.modeling.build import build_core_model, training_model

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    config = Config.model_validate(
        {
            "data": {"train": "unused.csv"},
            "model": {
                "embedding": {"dim": DIM},
                "encoder": {"units": UNITS},
                "attention": attention or {"type": "additive"},
            },
            "training": {"batch_size": BATCH},
        }
    )
    (train_texts, train_targets) = splits["train"]
    vocabulary = text.build_vocabulary(train_texts, config.preprocessing)
    vectorizer = text.make_vectorizer(config.preprocessing, vocabulary.tokens, ragged=True)

    def ids(texts):
        return text.encode(vectorizer, texts, vocabulary.max_length)

    dataset = text.training_dataset(
        ids(train_texts), train_targets, BATCH, seed=seed, bucketing=bucketing
    )
    scored = {
        split: text.evaluation_dataset(ids(splits[split][0]), splits[split][1], EVAL_BATCH)
        for split in ("dev", "test")
    }
    model = training_model(build_core_model(config, vocabulary.size, num_labels))
    return {
        **fit_with_curve(model, dataset, scored, epochs, start),
        "max_length": vocabulary.max_length,
        "vocabulary_size": vocabulary.size,
        "length_percentiles": vocabulary.train_length_percentiles,
    }


def reference_run(
    splits, num_labels: int, epochs: int, max_length: int, max_tokens: int, seed: int = 0
) -> dict:
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    train_texts, train_targets = splits["train"]
    vectorize = layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=max_length)
    vectorize.adapt(train_texts)

    def batches(texts, targets, shuffle: bool, size: int):
        dataset = tf.data.Dataset.from_tensor_slices((texts, targets))
        if shuffle:
            dataset = dataset.shuffle(len(texts), seed=seed)
        dataset = dataset.batch(size).map(
            lambda x, y: (vectorize(x), y), num_parallel_calls=tf.data.AUTOTUNE
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    dataset = batches(train_texts, train_targets, True, BATCH)
    scored = {split: batches(*splits[split], False, EVAL_BATCH) for split in ("dev", "test")}
    inputs = keras.Input(shape=(max_length,), dtype="int64")
    embedded = layers.Embedding(max_tokens, DIM, mask_zero=True)(inputs)
    hidden = layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True))(embedded)
    scores = layers.Flatten()(layers.Dense(1, activation="tanh")(hidden))
    weights = layers.Activation("softmax")(scores)
    weights = layers.Permute([2, 1])(layers.RepeatVector(2 * UNITS)(weights))
    context = keras.ops.sum(layers.Multiply()([hidden, weights]), axis=1)
    outputs = layers.Dense(num_labels, activation="softmax")(context)
    model = keras.Model(inputs, outputs)
    return fit_with_curve(model, dataset, scored, epochs, start)


def summarise(run: dict, rows: int) -> dict:
    """Samples/s, the best dev epoch and its test accuracy, elapsed time after each epoch."""
    seconds = run["epoch_seconds"]
    dev = [score["dev"] for score in run["scores"]]
    best = max(range(len(dev)), key=lambda i: (dev[i], -i))
    elapsed, total = [], run["setup_seconds"]
    for epoch_seconds in seconds:
        total += epoch_seconds
        elapsed.append(round(total, 2))
    timed = seconds[1:] or seconds
    return {
        "setup_seconds": round(run["setup_seconds"], 2),
        "epoch_seconds": [round(s, 2) for s in seconds],
        "elapsed_seconds": elapsed,
        "dev_accuracy": [round(d, 4) for d in dev],
        "test_accuracy": [round(score["test"], 4) for score in run["scores"]],
        "samples_per_s": round(rows / statistics.median(timed), 1),
        "best_epoch": best + 1,
        "best_dev_accuracy": round(dev[best], 4),
        "test_accuracy_at_best_dev": round(run["scores"][best]["test"], 4),
    }


def seconds_to(summary: dict, target: float) -> float | None:
    for elapsed, accuracy in zip(summary["elapsed_seconds"], summary["dev_accuracy"]):
        if accuracy >= target:
            return elapsed
    return None


def main() -> None:
    import numpy as np
    import tensorflow as tf

    argv, destination = json_destination(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["banking77", "austen"])
    parser.add_argument("--rows", type=int, default=0, help="first N training rows (0: all)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0, help="weights and shuffling, both sides")
    parser.add_argument(
        "--no-bucketing", action="store_true", help="seqcls batches in shuffled order (a check)"
    )
    parser.add_argument(
        "--seqcls-pooling",
        choices=["mean", "max", "last"],
        help="seqcls without attention, pooling instead (a check; not the same model)",
    )
    parser.add_argument(
        "--seqcls-only", action="store_true", help="skip the script (for seqcls-side checks)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch traces and is not timed)")

    train = load_split(args.dataset, "train", args.rows or None)
    labels = sorted({label for _, label in train})
    index = {label: i for i, label in enumerate(labels)}
    splits = {}
    for split, rows in (
        ("train", train),
        ("dev", load_split(args.dataset, "dev")),
        ("test", load_split(args.dataset, "test")),
    ):
        rows = [(text, label) for text, label in rows if label in index]
        splits[split] = (
            [text for text, _ in rows],
            np.array([index[label] for _, label in rows], dtype=np.int64),
        )

    ours = seqcls_run(
        splits,
        len(labels),
        args.epochs,
        bucketing=not args.no_bucketing,
        seed=args.seed,
        attention={"type": "none", "pooling": args.seqcls_pooling} if args.seqcls_pooling else None,
    )
    rows = len(splits["train"][0])
    seqcls = summarise(ours, rows)
    if args.seqcls_only:
        emit({"dataset": args.dataset, "epochs": args.epochs, "seqcls": seqcls}, destination)
        return
    theirs = reference_run(
        splits, len(labels), args.epochs, ours["max_length"], ours["vocabulary_size"], args.seed
    )
    reference = summarise(theirs, rows)
    target = min(seqcls["best_dev_accuracy"], reference["best_dev_accuracy"])
    seqcls_to, reference_to = seconds_to(seqcls, target), seconds_to(reference, target)
    emit(
        {
            "dataset": args.dataset,
            "command": "python benchmarks/throughput.py " + " ".join(argv),
            "rows": {split: len(data[0]) for split, data in splits.items()},
            "max_length": ours["max_length"],
            "length_percentiles": ours["length_percentiles"],
            "epochs": args.epochs,
            "seqcls": seqcls,
            "reference": reference,
            "samples_per_s_ratio": round(seqcls["samples_per_s"] / reference["samples_per_s"], 2),
            "target_dev_accuracy": target,
            "seqcls_seconds_to_target": seqcls_to,
            "reference_seconds_to_target": reference_to,
            "time_to_accuracy_ratio": round(reference_to / seqcls_to, 2),
            "tensorflow": tf.__version__,
        },
        destination,
    )


if __name__ == "__main__":
    main()
