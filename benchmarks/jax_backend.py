"""Does KERAS_BACKEND=jax train seqcls's model faster than TensorFlow on this CPU?

Trains the same core model (seqcls.modeling.build.build_core_model on configs/banking77.yaml:
embedding 128, Bi-LSTM 128 concat, additive attention) on the same BANKING77 batches
under each backend, each in its own process, and prints samples/s per epoch. Batches
are built once with NumPy: shuffled, grouped by length, padded to a multiple of 8 tokens
(a few distinct shapes, so JAX compiles a few programs), batch size 32, Adam.

    python benchmarks/jax_backend.py [EPOCHS] [--json OUT]     # needs `pip install jax`
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, emit, json_destination  # noqa: E402

WORKER = r"""
import json, sys, time
import numpy as np
import keras
from seqcls.config import load_config
from seqcls.modeling import build as model_lib
epochs = int(sys.argv[2])
data = np.load(sys.argv[1], allow_pickle=True)
batches, targets, vocab, labels = data["ids"], data["targets"], int(data["vocab"]), int(data["labels"])
config = load_config(sys.argv[3])
keras.utils.set_random_seed(0)
core = model_lib.build_core_model(config, vocab, labels)
classifier = model_lib.training_model(core)
classifier.compile(optimizer=keras.optimizers.Adam(0.002), loss="sparse_categorical_crossentropy")
rows = sum(len(t) for t in targets)
seconds = []
for epoch in range(epochs):
    start = time.perf_counter()
    for ids, y in zip(batches, targets):
        loss = classifier.train_on_batch(ids, y)
    seconds.append(time.perf_counter() - start)
print("RESULT " + json.dumps({"backend": keras.backend.backend(), "seconds": seconds, "rows": rows, "loss": float(np.asarray(loss).reshape(-1)[0])}))
"""


def make_batches(path: Path) -> None:
    import numpy as np

    from seqcls.config import load_config
    from seqcls.training.prepare import prepare

    # The token ids and targets `seqcls train` trains on.
    prepared = prepare(load_config(ROOT / "configs/banking77.yaml"))
    ids = prepared.ids["train"].to_list()
    labels = np.asarray(prepared.targets["train"])
    order = np.random.default_rng(0).permutation(len(ids))
    batches, targets = [], []
    for start in range(0, len(order), 32 * 16):  # sort by length within chunks of 16 batches
        chunk = sorted(order[start : start + 32 * 16], key=lambda i: len(ids[i]))
        for b in range(0, len(chunk), 32):
            rows = chunk[b : b + 32]
            width = -(-max(len(ids[i]) for i in rows) // 8) * 8
            batch = np.zeros((len(rows), width), dtype="int32")
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
            batches.append(batch)
            targets.append(labels[rows].astype("int32"))
    holder = np.empty(len(batches), dtype=object)
    holder[:] = batches
    target_holder = np.empty(len(targets), dtype=object)
    target_holder[:] = targets
    np.savez(
        path,
        ids=holder,
        targets=target_holder,
        vocab=prepared.vocabulary.size,
        labels=len(prepared.labels),
    )
    shapes = sorted({b.shape[1] for b in batches})
    print(f"{len(batches)} batches, padded widths {shapes}", flush=True)


def main() -> None:
    arguments, destination = json_destination(sys.argv[1:])
    epochs = int(arguments[0]) if arguments else 3
    path = Path("/tmp/seqcls-jax-batches.npz")
    make_batches(path)
    results = {}
    for backend in ("tensorflow", "jax"):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        started = time.perf_counter()
        output = subprocess.run(
            [
                sys.executable,
                "-c",
                WORKER,
                str(path),
                str(epochs),
                str(ROOT / "configs/banking77.yaml"),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        line = [row for row in output.stdout.splitlines() if row.startswith("RESULT ")]
        if not line:
            print(output.stdout[-2000:], output.stderr[-3000:])
            raise SystemExit(f"{backend} failed")
        result = json.loads(line[0][7:])
        steady = statistics.median(result["seconds"][1:]) if epochs > 1 else result["seconds"][0]
        result["samples_per_s"] = result["rows"] / steady
        result["first_epoch_s"] = result["seconds"][0]
        result["process_s"] = time.perf_counter() - started
        result["seconds"] = [round(seconds, 2) for seconds in result["seconds"]]
        results[backend] = result
        print(
            f"{backend}: epochs {[round(s, 1) for s in result['seconds']]} s; "
            f"{result['samples_per_s']:,.0f} samples/s (median of epochs 2..); final loss "
            f"{result['loss']:.3f}",
            flush=True,
        )
    ratio = results["jax"]["samples_per_s"] / results["tensorflow"]["samples_per_s"]
    print(f"jax / tensorflow samples/s: {ratio:.2f}x")
    emit({**results, "epochs": epochs, "ratio": round(ratio, 3)}, destination)


if __name__ == "__main__":
    main()
