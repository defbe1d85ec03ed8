"""`Classifier`: a loaded run that predicts, gives probabilities and explains texts; the
one object `seqcls predict`, `seqcls serve` and the Python API (seqcls.api) predict with.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqcls.errors import UsageError
from seqcls.inference.texts import is_frame, text_list

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from seqcls.config import Config
    from seqcls.data.reading import Table
    from seqcls.inference.predict import Run

TOP_LABEL, TOP_PROBABILITY = "top{}_label", "top{}_probability"


def load(run_dir: str | Path, engine: str = "auto", report: Any = None) -> Classifier:
    """Load a finished run directory (checked as `seqcls predict` checks it).

    `engine`: auto (default: onnx when the run has a current ONNX export, else keras),
    keras (TensorFlow) or onnx (the run's ONNX export through ONNX Runtime: no TensorFlow
    import), as `seqcls predict --engine` (seqcls.inference.onnx_engine). With
    SEQCLS_DEBUG=1 in the environment, `report` is told which engine runs and why."""
    import os

    if engine != "keras":
        from seqcls.inference import onnx_engine

        name, why = onnx_engine.choose_engine(run_dir, engine)
        if report is not None and os.environ.get(onnx_engine.DEBUG_VARIABLE, "") not in ("", "0"):
            report(f"engine: {name} ({why})")
        if name == "onnx":
            # --engine onnx takes an export older than the fingerprint; auto never does.
            return Classifier(onnx_engine.load_onnx_run(run_dir, engine == "auto"))
    from seqcls.inference.predict import load_run
    from seqcls.tensorflow_logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    return Classifier(load_run(run_dir))


class Classifier:
    """A loaded run: predict, predict_proba and explain texts.

    `texts` may be any sequence of str: a list, a tuple, a NumPy array or a pandas
    Series, or a pandas DataFrame with the run's text column(s) (`text_column=` names
    others). Texts are batched by length, as `seqcls predict` batches them.
    """

    def __init__(self, run: Run):
        self.run = run

    def __repr__(self) -> str:
        return f"<seqcls.Classifier {self.task} {len(self.labels)} labels from {self.run_dir}>"

    @property
    def run_dir(self) -> Path:
        return self.run.directory

    @property
    def labels(self) -> list[str]:
        """The labels, in the order of predict_proba's columns."""
        return list(self.run.labels)

    @property
    def task(self) -> str:
        return self.run.task

    @property
    def config(self) -> Config:
        return self.run.config

    @property
    def has_attention(self) -> bool:
        return self.run.has_attention

    # --------------------------------------------------------------------- predicting

    def predict(
        self,
        texts: Iterable[str] | pd.DataFrame,
        *,
        top_k: int = 0,
        attention: bool = False,
        threshold: float | None = None,
        text_column: str | list[str] | None = None,
        calibrated: bool = True,
        abstain: str | float | None = None,
    ) -> list[dict[str, Any]]:
        """One record per text, in order: `label` and `probability` (multiclass, binary),
        `labels` (multilabel: every label at or above its threshold, a list), or `tags`
        (tagging: one per token, a list); with `top_k`, `top_k` as a list of
        {label, probability}; with `attention`, `attention` as [token, weight] pairs
        (`attention_forward`/`attention_backward` for a per-direction run). The
        probabilities are `seqcls predict`'s, rounded to 6 digits as it writes them:
        calibrated by the temperature fitted on valid (`calibrated=False`: the model's own).
        `abstain`: "auto" (the threshold fitted on valid) or a number: a text whose top
        probability is below it gets the config's abstention.unknown_label."""
        texts = self.texts(texts, text_column)
        self.check_options(top_k, attention, threshold)
        cut = self.abstain_threshold(abstain)
        outputs = self.outputs(texts, calibrated)
        return self.records(texts, outputs, top_k, attention, threshold, cut, calibrated)

    def predict_proba(
        self,
        texts: Iterable[str] | pd.DataFrame,
        *,
        text_column: str | list[str] | None = None,
        calibrated: bool = True,
    ) -> np.ndarray:
        """(texts, labels) probabilities, unrounded; columns in `labels` order, calibrated
        unless `calibrated=False`. Multilabel rows need not sum to 1 (one sigmoid per
        label)."""
        import numpy as np

        from seqcls.modeling.outputs import PROBABILITIES
        from seqcls.tasks import get_task

        if get_task(self.task).per_token:
            raise UsageError(
                "predict_proba gives one row per text; a tagging run predicts one tag per "
                "token: use predict(texts), whose records carry the tags"
            )
        texts = self.texts(texts, text_column)
        if not texts:
            return np.zeros((0, len(self.labels)))
        outputs = self.outputs(texts, calibrated)
        return get_task(self.task).probabilities(outputs[PROBABILITIES])

    def predict_frame(
        self,
        frame: pd.DataFrame,
        *,
        top_k: int = 0,
        attention: bool = False,
        threshold: float | None = None,
        text_column: str | list[str] | None = None,
        calibrated: bool = True,
        abstain: str | float | None = None,
    ) -> pd.DataFrame:
        """`frame` (left as it is) with the columns `seqcls predict` adds after its own,
        same index: the DataFrame that predict's Parquet output reads back as
        (predicted_label, predicted_probability, topK_label/topK_probability,
        predicted_labels joined by the run's label_delimiter, predicted_tags; `attention`
        as lists of {"token", "weight"} dicts)."""
        from seqcls.inference.predict import attention_columns, prediction_rows
        from seqcls.inference.texts import with_predictions

        if not is_frame(frame):
            raise UsageError(
                f"predict_frame takes a pandas DataFrame, got {type(frame).__name__}; "
                "predict(texts) takes a sequence of texts"
            )
        texts = self.texts(frame, text_column)
        self.check_options(top_k, attention, threshold)
        cut = self.abstain_threshold(abstain)
        outputs = self.outputs(texts, calibrated)
        added, rows = prediction_rows(
            self.run, texts, outputs, top_k, attention, threshold, cut, calibrated
        )
        pairs = list(attention_columns(outputs).values()) if attention else []
        return with_predictions(frame, added, rows, pairs)

    def explain(self, text: str) -> dict[str, Any]:
        """One text's prediction and the attention weight of each token it was cut to:
        the predict record with `tokens` and `weights` (or `weights_forward` and
        `weights_backward`) beside it."""
        if not isinstance(text, str):
            raise UsageError(f"explain takes one text (a str), got {type(text).__name__}")
        record = self.predict([text], attention=True)[0]
        result: dict[str, Any] = {"text": text}
        for key in [key for key in record if key.startswith("attention")]:
            pairs = record.pop(key)
            result.setdefault("tokens", [token for token, _ in pairs])
            result["weights" + key.removeprefix("attention")] = [weight for _, weight in pairs]
        result.setdefault("tokens", [])
        return {**record, **result}

    # ------------------------------------------------------- the pieces (CLI, server)

    def check_options(self, top_k: int, attention: bool, threshold: float | None) -> None:
        """Refuse options of the wrong type or that the run cannot honour (UsageError, in
        the Python argument names), before any model call."""
        from seqcls.inference.predict import check_prediction_options

        if type(top_k) is not int:  # not a float, not a bool
            raise UsageError(f"top_k must be an int, got {type(top_k).__name__} {top_k!r}")
        if not isinstance(attention, bool):
            raise UsageError(f"attention must be True or False, got {attention!r}")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float))
        ):
            raise UsageError(f"threshold must be a number, got {threshold!r}")
        try:
            check_prediction_options(self.run, top_k, attention, threshold)
        except UsageError as error:
            message = str(error).replace("--with-attention/--explain", "attention")
            raise UsageError(
                message.replace("--top-k", "top_k").replace("--threshold", "threshold")
            ) from None

    def abstain_threshold(self, abstain: str | float | None) -> float | None:
        """The threshold `abstain` names (see seqcls.inference.predict.resolve_abstain)."""
        from seqcls.inference.predict import resolve_abstain

        if isinstance(abstain, bool):
            raise UsageError(f"abstain must be 'auto' or a number, got {abstain!r}")
        try:
            return resolve_abstain(self.run, abstain)
        except UsageError as error:
            raise UsageError(str(error).replace("--abstain", "abstain")) from None

    def texts(self, texts: Any, text_column: Any = None) -> list[str]:
        """The texts to predict as a list: a DataFrame's text column(s) (`text_column`,
        else the run's, several joined by its data.text_separator), or `texts` itself."""
        from seqcls.inference.texts import frame_texts, text_columns

        if is_frame(texts):
            data = self.config.data
            names = text_columns(texts, text_column, data.text_column)
            return frame_texts(texts, names, data.text_separator)
        if text_column is not None:
            raise UsageError(
                f"text_column picks a DataFrame's column; texts is a {type(texts).__name__}, "
                "not a DataFrame: leave text_column out"
            )
        return text_list(texts)

    def outputs(
        self, texts: list[str], calibrated: bool = True, batch_size: int | None = None
    ) -> dict[str, Any]:
        """The model's outputs, one entry per text (seqcls.inference.predict), its
        probabilities calibrated unless `calibrated` is false; `batch_size`: texts per
        model call (default: predict's), the texts sorted by length first."""
        if batch_size is None:
            return self.run.outputs(texts, calibrated)
        return self.run.outputs(texts, calibrated, batch_size)

    def records(
        self,
        texts: list[str],
        outputs: dict[str, list],
        top_k: int = 0,
        attention: bool = False,
        threshold: float | None = None,
        abstain: float | None = None,
        calibrated: bool = True,
    ) -> list[dict[str, Any]]:
        """predict's records from the outputs of `texts` (a server merges several
        requests' texts into one model call, then makes each request's records);
        `abstain`: a threshold (abstain_threshold); `calibrated`: whether the outputs are."""
        from seqcls.inference.predict import prediction_rows

        _, rows = prediction_rows(
            self.run, texts, outputs, top_k, attention, threshold, abstain, calibrated
        )
        return [self._record(row) for row in rows]

    def _record(self, row: dict[str, Any]) -> dict[str, Any]:
        from seqcls.tasks.base import PREDICTED_LABEL, PREDICTED_PROBABILITY
        from seqcls.tasks.multilabel import PREDICTED_LABELS
        from seqcls.tasks.tagging import PREDICTED_TAGS

        record: dict[str, Any] = {}
        ranked = []
        for rank in range(1, len(self.labels) + 1):
            label = row.pop(TOP_LABEL.format(rank), None)
            if label is None:
                break
            ranked.append({"label": label, "probability": row.pop(TOP_PROBABILITY.format(rank))})
        for key, value in row.items():
            if key == PREDICTED_LABEL:
                record["label"] = value
            elif key == PREDICTED_PROBABILITY:
                record["probability"] = value
            elif key == PREDICTED_LABELS:
                record["labels"] = value.split(self.run.delimiter) if value else []
            elif key == PREDICTED_TAGS:
                record["tags"] = value.split(" ") if value else []
            else:
                record[key] = value
        if ranked:
            record["top_k"] = ranked
        return record

    def predict_table(
        self,
        table: Table,
        text_column: str | list[str],
        top_k: int = 0,
        attention: bool = False,
        threshold: float | None = None,
        calibrated: bool = True,
        abstain: str | float | None = None,
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """A table's rows with predict's columns added, flat (top1_label, ...), as
        `seqcls predict` writes them."""
        from seqcls.inference.predict import predict_table, resolve_abstain

        cut = resolve_abstain(self.run, abstain)
        return predict_table(
            self.run, table, text_column, top_k, attention, threshold, calibrated, cut
        )
