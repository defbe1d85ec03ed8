"""The explain page (`predict --html`) on a labelled file: the true label beside each
prediction, mistakes first with a "mistakes only" toggle, a cap on very large pages,
shading on one absolute scale, and whitespace tokens shown as symbols (issue 18 item 9)."""

import csv
import re
from html.parser import HTMLParser

from typer.testing import CliRunner

from seqcls.cli import app
from seqcls.reporting import explain_page

runner = CliRunner()
LABELS = ["card_lost", "exchange_rate", "top_up"]
# Rows (0-based) of the labelled file whose label is deliberately wrong: the model,
# right on every tiny test text, disagrees with them.
FLIPPED = (2, 7, 15)


class Rows(HTMLParser):
    """Each row of the page: its number, verdict, prediction, true label and the tokens'
    backgrounds; and whether anything is fetched from outside."""

    def __init__(self):
        super().__init__()
        self.rows, self.external, self.checkbox = [], [], False
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        kind = attrs.get("class", "")
        if kind == "row":
            self.rows.append({"verdict": attrs.get("data-verdict"), "shades": []})
        elif kind in ("num", "pred", "truth"):
            self._in = kind
        elif kind.split()[:1] == ["tok"]:
            self.rows[-1]["shades"].append(attrs.get("style"))
        if tag == "input" and attrs.get("id") == "only-mistakes":
            self.checkbox = attrs.get("type") == "checkbox"
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag == "script":
            self.external.append("script")

    def handle_data(self, data):
        if self._in:
            self.rows[-1][self._in] = data.strip()
        self._in = None


def labelled_file(path, count=24, flipped=FLIPPED):
    """The tiny test texts with their labels, some flipped to a wrong one."""
    from conftest import labelled_rows

    rows = labelled_rows(count, seed=3)
    for index in flipped:
        text, label = rows[index]
        rows[index] = (text, LABELS[(LABELS.index(label) + 1) % 3])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return rows


def page_of(run_dir, source, tmp_path):
    page_path = tmp_path / "explain.html"
    result = runner.invoke(app, ["predict", str(run_dir), str(source), "--html", str(page_path)])
    assert result.exit_code == 0, result.output
    text = page_path.read_text(encoding="utf-8")
    parser = Rows()
    parser.feed(text)
    return text, parser


def test_explain_page_shows_true_labels_and_puts_the_mistakes_first(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    source = tmp_path / "labelled.csv"
    rows = labelled_file(source)
    page, parser = page_of(run_dir, source, tmp_path)
    assert not parser.external  # self-contained: the toggle is CSS only
    assert len(parser.rows) == len(rows)
    wrong = [row for row in parser.rows if row["verdict"] == "wrong"]
    # The three flipped rows, first, numbered as in the input, with their true labels.
    assert [row["num"] for row in parser.rows[:3]] == [f"#{i + 1}" for i in FLIPPED]
    assert [row["num"] for row in wrong] == [f"#{i + 1}" for i in FLIPPED]
    for row in wrong:
        truth = rows[int(row["num"][1:]) - 1][1]
        assert row["truth"] == f"true: {truth}"
        assert not row["pred"].startswith(truth + " ")
    right = parser.rows[3:]
    assert all(row["verdict"] == "right" for row in right)
    assert all(row["pred"].startswith(row["truth"].removeprefix("true: ") + " ") for row in right)
    assert "3 of 24 predictions wrong" in page
    # The "mistakes only" toggle: a checkbox whose checked state hides the right rows.
    assert parser.checkbox
    assert '#only-mistakes:checked ~ .rows .row[data-verdict="right"]' in page


def test_explain_page_without_a_label_column_has_no_verdicts(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    source = tmp_path / "texts.csv"
    source.write_text("text\ni lost my card\nmy top up failed\n", encoding="utf-8")
    page, parser = page_of(run_dir, source, tmp_path)
    assert [row["verdict"] for row in parser.rows] == [None, None]
    assert [row["num"] for row in parser.rows] == ["#1", "#2"]
    assert "predictions wrong" not in page and not parser.checkbox


def test_explain_page_is_capped_and_says_how_many_were_left_out(trained_run, tmp_path):
    _, run_dir, _ = trained_run
    count = explain_page.MAX_PAGE_ROWS + 40
    source = tmp_path / "many.csv"
    # Mistakes near the end of the file still make the page (they come first).
    flipped = (5, count - 3, count - 1)
    labelled_file(source, count, flipped)
    page, parser = page_of(run_dir, source, tmp_path)
    assert len(parser.rows) == explain_page.MAX_PAGE_ROWS
    assert [row["num"] for row in parser.rows[:3]] == [f"#{i + 1}" for i in flipped]
    assert f"Showing {explain_page.MAX_PAGE_ROWS} of {count} texts" in page
    assert "40 not shown" in page and "--with-attention --output FILE" in page


def shades(page):
    parser = Rows()
    parser.feed(page)
    return [row["shades"] for row in parser.rows]


def row(pairs):
    return {"text": "x", "predicted_label": "a", "predicted_probability": 0.9, "attention": pairs}


def test_explain_page_shading_is_absolute_not_relative_to_each_texts_top_token():
    even = [["w", 0.1]] * 10  # near-uniform attention over 10 tokens
    almost_even = [["a", 0.26], ["b", 0.25], ["c", 0.25], ["d", 0.24]]
    peaked = [["a", 0.85], ["b", 0.05], ["c", 0.05], ["d", 0.05]]
    page = explain_page.html_page(
        [row(even), row(almost_even), row(peaked)], "text", ["attention"], "run"
    )
    first, second, third = shades(page)
    # Even attention is not shaded at all, however its top token compares.
    assert first == [None] * 10 and second == [None] * 4
    # A token holding 0.85 of 4 (3.4 times even) is shaded; the others are not.
    assert third[0] is not None and third[1:] == [None] * 3
    assert "spread over ~10.0 of 10 tokens (about even)" in page
    assert "spread over ~1.8 of 4 tokens" in page
    # One scale across texts: the same ratio to even gives the same shade.
    long_text = [["x", 0.34]] + [["y", 0.66 / 15]] * 15  # 0.34 of 16 tokens: 5.4 times even
    short_text = [["x", 0.54], ["y", 0.46]]  # 0.54 of 2: 1.08 times even, about even
    long_shades, short_shades = shades(
        explain_page.html_page([row(long_text), row(short_text)], "text", ["attention"], "r")
    )
    assert long_shades[0] is not None and short_shades == [None, None]


def test_explain_page_shows_a_space_token_as_a_visible_symbol():
    pairs = [["a", 0.2], [" ", 0.5], ["b", 0.3]]  # a char model's space, most attended
    page = explain_page.html_page([row(pairs)], "text", ["attention"], "run")
    most = re.search(r'<div class="top">most attended: ([^<]*)', page).group(1)
    assert most.startswith("␣ 0.50, ")
    assert '<span class="tok ws"' in page and ">␣</span>" in page
    assert explain_page.visible("\t") == "⇥" and explain_page.visible("card") == "card"


def test_explain_page_with_no_mistakes_has_no_toggle():
    labelled = {**row([["a", 1.0]]), "label": "a"}
    page = explain_page.html_page([labelled], "text", ["attention"], "run", label_column="label")
    parser = Rows()
    parser.feed(page)
    assert "0 of 1 predictions wrong" in page and not parser.checkbox
    assert parser.rows[0]["verdict"] == "right"


def test_explain_page_compares_label_sets_when_rows_predict_several():
    rows = [
        {"text": "x", "predicted_labels": "b|a", "labels": "a|b", "attention": [["x", 1.0]]},
        {"text": "y", "predicted_labels": "a", "labels": "a|c", "attention": [["y", 1.0]]},
    ]
    page = explain_page.html_page(rows, "text", ["attention"], "run", label_column="labels")
    parser = Rows()
    parser.feed(page)
    assert [(row["num"], row["verdict"]) for row in parser.rows] == [
        ("#2", "wrong"),
        ("#1", "right"),
    ]
