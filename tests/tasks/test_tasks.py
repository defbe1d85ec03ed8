import numpy as np
import pytest

from seqcls.config import DataConfig
from seqcls.data.bad_rows import apply_policy
from seqcls.data.splits import read_split
from seqcls.errors import DataError
from seqcls.tasks.multilabel import multilabel_metrics, tune_thresholds
from seqcls.tasks.tagging import bio_spans, tagging_metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_tasks_thresholds_maximise_f1_per_label():
    probabilities = np.array([[0.9, 0.2], [0.6, 0.3], [0.4, 0.1], [0.1, 0.05]])
    truth = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    thresholds = tune_thresholds(probabilities, truth)
    # Label 0: anything in (0.4, 0.6] separates perfectly; the midpoint is chosen.
    assert thresholds[0] == pytest.approx(0.5)
    # Label 1 has no positive example: the default 0.5 stays.
    assert thresholds[1] == 0.5
    predicted = probabilities >= np.array(thresholds)
    assert (predicted[:, 0] == truth[:, 0].astype(bool)).all()


def test_tasks_multilabel_metrics_match_scikit_learn():
    generator = np.random.default_rng(0)
    truth = generator.random((200, 4)) < 0.3
    predicted = np.where(generator.random((200, 4)) < 0.8, truth, ~truth)
    metrics = multilabel_metrics(truth, predicted, ["a", "b", "c", "d"])
    for average in ("micro", "macro", "weighted"):
        expected = sklearn_metrics.f1_score(truth, predicted, average=average, zero_division=0)
        assert metrics[f"{average}_f1"] == pytest.approx(expected)
    assert metrics["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(truth, predicted))
    assert metrics["hamming_loss"] == pytest.approx(sklearn_metrics.hamming_loss(truth, predicted))


def test_tasks_bio_spans_and_span_f1():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-PER"]) == {
        ("PER", 0, 2),
        ("LOC", 3, 5),
        ("PER", 5, 6),  # an I- that does not continue its type starts a span
    }
    tags = ["B-PER", "I-PER", "O"]
    true_rows = [[0, 1, 2, 2], [0, 2]]  # spans: PER(0,2); PER(0,1)
    predicted_rows = [[0, 1, 2, 2], [2, 2]]  # finds the first, misses the second
    metrics = tagging_metrics(true_rows, predicted_rows, tags)
    assert metrics["span_precision"] == 1.0 and metrics["span_recall"] == 0.5
    assert metrics["span_f1"] == pytest.approx(2 / 3)
    assert metrics["tokens"] == 6 and metrics["rows"] == 2
    assert metrics["accuracy"] == pytest.approx(5 / 6)


def test_tasks_tag_count_mismatch_names_the_line(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text("text,label\na b c,O O O\nd e,O B-X I-X\n", encoding="utf-8")
    split = read_split("train", path, DataConfig(train=path), "tagging")
    assert split.texts == ["a b c"]
    with pytest.raises(DataError, match=r"line 3: 2 tokens in 'text' but 3 tags in 'label'"):
        apply_policy(split.problems, "error", str(path))


def test_tasks_multilabel_cells_split_on_the_delimiter(tmp_path):
    path = tmp_path / "ml.csv"
    path.write_text("text,label\nx,a|b\ny, b \n", encoding="utf-8")
    from seqcls.data.splits import label_list

    split = read_split("train", path, DataConfig(train=path), "multilabel")
    assert label_list(split, "multilabel", "|") == ["a", "b"]


def _split(labels: list[str]):
    from seqcls.data.splits import Split

    return Split("train", [f"text {i}" for i in range(len(labels))], labels, "t.csv")


@pytest.mark.parametrize(
    "name, cells, labels",
    [
        ("multiclass", ["b", "a", "c", "b"], ["a", "b", "c"]),
        ("binary", ["no", "yes", "yes"], ["no", "yes"]),
        ("multilabel", ["a|c", "b", "c|a|b"], ["a", "b", "c"]),
    ],
)
def test_task_objects_encode_streamed_rows_as_in_memory_targets(name, cells, labels):
    """A streamed row's target (encode_target, with its declared shape and dtype) is the
    in-memory split's target for the same label cell, for every text-level task."""
    from seqcls.tasks import get_task

    task = get_task(name)
    in_memory = task.targets(_split(cells), labels, "|")
    index = {label: i for i, label in enumerate(labels)}
    for row, cell in zip(in_memory, cells):
        streamed = np.asarray(task.encode_target(cell, index, "|"))
        assert streamed.shape == task.target_shape(len(labels))
        assert streamed.dtype == np.dtype(task.target_dtype())
        np.testing.assert_array_equal(streamed, row)


def test_task_objects_decide_and_evaluate_from_model_outputs():
    from seqcls.modeling.outputs import PROBABILITIES, TOKEN_IDS
    from seqcls.tasks import get_task

    binary = get_task("binary")
    outputs = {PROBABILITIES: np.array([[0.8], [0.3]])}  # P(second label)
    decided = binary.decide(outputs, ["no", "yes"], "|", None, top_k=2)
    assert [row["predicted_label"] for row in decided] == ["yes", "no"]
    assert decided[1]["top2_label"] == "yes" and decided[1]["top2_probability"] == 0.3
    metrics = binary.evaluate(outputs, _split(["yes", "yes"]), ["no", "yes"], "|")
    assert metrics["accuracy"] == 0.5

    multilabel = get_task("multilabel")
    outputs = {PROBABILITIES: np.array([[0.9, 0.2, 0.6]])}
    decided = multilabel.decide(outputs, ["a", "b", "c"], "|", [0.5, 0.1, 0.7])
    assert decided == [{"predicted_labels": "a|b"}]

    tagging = get_task("tagging")
    outputs = {
        PROBABILITIES: np.array([[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]]),
        TOKEN_IDS: np.array([[5, 7, 0]]),  # two real tokens, one padding step
    }
    assert tagging.decide(outputs, ["O", "B-X"], "|", None) == [{"predicted_tags": "O B-X"}]


def test_task_objects_refuse_what_they_cannot_train():
    from seqcls.tasks import get_task, resolve_task

    with pytest.raises(DataError, match="task is binary but train has 3 labels"):
        resolve_task("binary", ["a", "b", "c"], "train.csv")
    assert resolve_task("auto", ["a", "b"], "train.csv") == "binary"
    assert resolve_task("auto", ["a", "b", "c"], "train.csv") == "multiclass"
    assert not get_task("tagging").supports_distribution
    assert get_task("binary").output_units(2) == 1
    assert get_task("multilabel").output_units(5) == 5
