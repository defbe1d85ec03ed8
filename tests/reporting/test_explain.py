"""predict --explain (terminal) and --html (a page): tokens with their attention weights."""

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from seqcls.cli import app

runner = CliRunner()


def train_tiny(folder, name, *overrides):
    from conftest import cli_train, write_tiny_project

    if not (folder / "config.yaml").exists():
        write_tiny_project(folder)
    run_dir = folder / name
    result = cli_train(
        folder / "config.yaml", run_dir, "training.epochs=5", *overrides, options=("--quiet",)
    )
    assert result.exit_code == 0, result.output
    return run_dir


class Runs(dict):
    """The runs by attention kind, each trained on first use (a slow test's own run is not
    trained by the default suite)."""

    def __init__(self, folder, additive):
        super().__init__(additive=additive)
        self.folder = folder

    def __missing__(self, kind):
        overrides = {
            "multihead": "model.attention={type: multihead, num_heads: 2, key_dim: 4}",
            # These two only need weights of the right shape (or none): one epoch.
            "none": "model.attention.type=none",
            "split": "model.encoder.merge_mode=none",
        }[kind]
        self[kind] = train_tiny(self.folder, kind, overrides, "training.epochs=1")
        return self[kind]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, trained_run):
    # additive: the tiny config's default, the session's shared run.
    return Runs(tmp_path_factory.mktemp("explain"), trained_run[1])


# Two texts and an empty one. A blank line on stdin gets no prediction (it is skipped),
# so the empty text comes from a CSV file.
TEXTS = ["i lost my card", "what is the exchange rate for <b>euros</b>", ""]


@pytest.fixture
def texts(tmp_path):
    path = tmp_path / "texts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([text] for text in TEXTS)
    return str(path)


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.tokens, self.external = 0, [], []
        self.predictions = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("class") == "row":
            self.rows += 1
            self.tokens.append([])
        if attrs.get("class") == "tok":
            self._in = "tok"
            self.tokens[-1].append([None, float(attrs["title"])])
        if attrs.get("class") == "pred":
            self._in = "pred"
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])

    def handle_data(self, data):
        if self._in == "tok":
            self.tokens[-1][-1][0] = data
        elif self._in == "pred":
            self.predictions.append(data)
        self._in = None


def test_explain_prints_each_text_with_its_prediction_and_top_tokens(runs, texts):
    result = runner.invoke(app, ["predict", str(runs["additive"]), texts, "--explain"])
    assert result.exit_code == 0, result.output
    blocks = re.findall(r"^(\d)\. (\w+) \(([01]\.\d{3})\)$", result.stdout, flags=re.M)
    assert [number for number, _, _ in blocks] == ["1", "2", "3"]
    assert blocks[0][1] == "card_lost" and blocks[1][1] == "exchange_rate"
    assert "most attended:" in result.stdout
    assert "predicted_label" not in result.stdout  # no CSV on stdout with --explain


def test_explain_with_an_output_file_writes_the_csv_too(runs, tmp_path, texts):
    output = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["predict", str(runs["additive"]), texts, "--explain", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert len(rows) == 3 and "attention" not in rows[0]  # weights only on request
    assert rows[0]["predicted_label"] == "card_lost"


SLOW = pytest.mark.slow  # a run of its own: about 5 s


@pytest.mark.parametrize(
    "kind", ["additive", pytest.param("multihead", marks=SLOW), pytest.param("split", marks=SLOW)]
)
def test_html_page_shades_every_token_and_is_self_contained(runs, kind, tmp_path, texts):
    page_path = tmp_path / "explain.html"
    result = runner.invoke(app, ["predict", str(runs[kind]), texts, "--html", str(page_path)])
    assert result.exit_code == 0, result.output
    assert "predicted_label" in result.stdout  # without --explain the CSV still prints
    page = page_path.read_text(encoding="utf-8")
    parser = Page()
    parser.feed(page)
    assert parser.rows == 3 and not parser.external
    directions = 2 if kind == "split" else 1
    first, second, empty = parser.tokens
    assert [token for token, _ in first] == ["i", "lost", "my", "card"] * directions
    assert empty == []
    # Each direction's weights sum to 1 over the text's tokens.
    for tokens in (first, second):
        size = len(tokens) // directions
        for start in range(0, len(tokens), size):
            assert sum(weight for _, weight in tokens[start : start + size]) == pytest.approx(
                1.0, abs=1e-3
            )
    # The text's markup is shown, not interpreted.
    assert "&lt;b&gt;euros&lt;/b&gt;" in page and "<b>euros" not in page
    assert ("averaged over heads" in page) == (kind == "multihead")


@SLOW
def test_explain_without_attention_weights_is_a_usage_error(runs):
    stdin = "\n".join(TEXTS[:2]) + "\n"
    result = runner.invoke(app, ["predict", str(runs["none"]), "-", "--explain"], input=stdin)
    assert result.exit_code == 2
    assert "no attention weights" in result.output and "model.attention.type" in result.output
