"""What `predict --explain` and `predict --html` show of each explained row, and the page.

The rows come from predict_table(..., with_attention=True): the input table's columns,
the prediction columns and every attention column, holding [token, weight] pairs.

- Shading is on one scale for every text: a token's weight against an even spread
  (1 / the text's token count). At or below even it is not shaded; the shade deepens
  with log2 of the ratio up to FULL_SHADE times even. Near-uniform attention therefore
  looks pale, whatever the text's length; `spread` (the number of tokens the weight is
  effectively spread over, exp of its entropy) says the same in one number.
- With the run's label column in the input, each row has its true label: the page
  shows it beside the prediction, puts the mistakes first and has a "mistakes only"
  toggle (CSS only, the page stays self-contained).
- Whitespace tokens (a char model's spaces) are shown as visible symbols (␣).
- A page holds at most MAX_PAGE_ROWS texts (mistakes first); it says how many were
  left out and how to see them.
"""

from __future__ import annotations

import html
import math
from typing import Any

TOP_TOKENS = 5
# The most texts one page shows; the rest are counted, not drawn.
MAX_PAGE_ROWS = 500
# A token FULL_SHADE times the even share (1/token count) or more gets the darkest shade.
FULL_SHADE = 8.0
# Below this shade level a token is drawn plain (about 1.2 times the even share).
SHADE_FROM = 0.1
WHITESPACE = {" ": "␣", "\t": "⇥", "\n": "↵", "\r": "␍", "\u00a0": "⍽"}


def visible(token: Any) -> str:
    """The token as text, whitespace shown as symbols (a char model's space: ␣)."""
    text = str(token)
    if text and not text.isspace():
        return text
    return "".join(WHITESPACE.get(char, "·") for char in text) or "∅"


def prediction(row: dict[str, Any]) -> str:
    if "predicted_label" in row:
        return f"{row['predicted_label']} ({row['predicted_probability']:.3f})"
    return row.get("predicted_labels") or "(no label above its threshold)"


def top_labels(row: dict[str, Any]) -> str:
    """'top 3: a 0.812, b 0.100, c 0.088' from the row's top1_label, top1_probability, ...
    columns (predict --top-k); empty without them."""
    ranked = []
    while f"top{len(ranked) + 1}_label" in row:
        rank = len(ranked) + 1
        ranked.append(f"{row[f'top{rank}_label']} {float(row[f'top{rank}_probability']):.3f}")
    return f"top {len(ranked)}: " + ", ".join(ranked) if ranked else ""


def shade_levels(pairs: list[list[Any]]) -> list[float]:
    """Each token's shade in [0, 1]: log2(weight / even share) over log2(FULL_SHADE),
    clipped; 0 at or below the even share 1/len."""
    count = len(pairs)
    levels = []
    for _, weight in pairs:
        ratio = float(weight) * count
        level = math.log2(ratio) / math.log2(FULL_SHADE) if ratio > 0 else 0.0
        levels.append(min(1.0, max(0.0, level)))
    return levels


def heat(level: float) -> tuple[int, int, int]:
    """Pale yellow (a little above even) to deep orange (FULL_SHADE times even or more)."""
    return (255, int(245 - 125 * level), int(200 - 200 * level))


def spread(pairs: list[list[Any]]) -> float:
    """The number of tokens the weight is effectively spread over: exp(entropy)
    (len for even weights, 1 for all on one token)."""
    weights = [float(weight) for _, weight in pairs if float(weight) > 0]
    total = sum(weights)
    if not total:
        return 0.0
    return math.exp(-sum(w / total * math.log(w / total) for w in weights))


def spread_text(pairs: list[list[Any]]) -> str:
    count = len(pairs)
    effective = spread(pairs)
    even = " (about even)" if count > 1 and effective >= 0.9 * count else ""
    return f"spread over ~{effective:.1f} of {count} tokens{even}"


def most_attended(pairs: list[list[Any]]) -> str:
    top = sorted(pairs, key=lambda pair: -float(pair[1]))[:TOP_TOKENS]
    return ", ".join(f"{visible(token)} {float(weight):.2f}" for token, weight in top)


def direction(column: str) -> str:
    suffix = column.removeprefix("attention").lstrip("_")
    return f" ({suffix})" if suffix else ""


def true_label(row: dict[str, Any], label_column: str | None, text_column: str) -> str | None:
    """The row's true label when the input has the run's label column (blank: unknown)."""
    if not label_column or label_column == text_column or label_column not in row:
        return None
    value = row[label_column]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def is_mistake(row: dict[str, Any], truth: str, delimiter: str) -> bool:
    """Whether the prediction differs from `truth` (a set of labels when the rows
    predict several, joined by `delimiter`)."""
    if "predicted_label" in row:
        return str(row["predicted_label"]).strip() != truth
    predicted = str(row.get("predicted_labels") or "")
    return {p.strip() for p in predicted.split(delimiter) if p.strip()} != {
        t.strip() for t in truth.split(delimiter) if t.strip()
    }


def verdicts(
    rows: list[dict[str, Any]], text_column: str, label_column: str | None, delimiter: str
) -> list[tuple[str, bool] | None]:
    """Per row: (true label, wrong?) or None where the true label is not known."""
    found = []
    for row in rows:
        truth = true_label(row, label_column, text_column)
        found.append(None if truth is None else (truth, is_mistake(row, truth, delimiter)))
    return found


def wrong_count(found: list[tuple[str, bool] | None]) -> tuple[int, int]:
    """(wrong, rows with a true label)."""
    known = [wrong for _, wrong in filter(None, found)]
    return sum(known), len(known)


def _tokens_html(pairs: list[list[Any]]) -> str:
    spans = []
    for (token, weight), level in zip(pairs, shade_levels(pairs)):
        style = f' style="background: rgb{heat(level)}"' if level >= SHADE_FROM else ""
        shown = visible(token)
        kind = "tok ws" if shown != str(token) else "tok"
        # The title holds the weight alone (hover it; tests read it back).
        spans.append(
            f'<span class="{kind}"{style} title="{float(weight):.4f}">{html.escape(shown)}</span>'
        )
    return " ".join(spans)


def _row_html(
    number: int, row: dict[str, Any], text_column: str, attention: list[str], verdict: Any
) -> str:
    head = [
        f'<span class="num">#{number}</span> <span class="pred">{html.escape(prediction(row))}</span>'
    ]
    marker = ""
    if verdict is not None:
        truth, wrong = verdict
        mark = "✗ wrong" if wrong else "✓"
        head.append(
            f' <span class="truth">true: {html.escape(truth)}</span> <span class="mark">{mark}</span>'
        )
        marker = f' data-verdict="{"wrong" if wrong else "right"}"'
    body = [f'<div class="head">{"".join(head)}</div>']
    if top_labels(row):
        body.append(f'<div class="topk">{html.escape(top_labels(row))}</div>')
    body.append(f'<div class="text">{html.escape(str(row.get(text_column, "")))}</div>')
    for column in attention:
        pairs = row[column]
        if not pairs:
            body.append('<div class="top">(no tokens)</div>')
            break
        label = (
            f'<span class="dir">{html.escape(direction(column).strip())}</span>'
            if len(attention) > 1
            else ""
        )
        body.append(f'<div class="tokens">{label}{_tokens_html(pairs)}</div>')
        body.append(
            f'<div class="top">most attended{html.escape(direction(column))}: '
            f"{html.escape(most_attended(pairs))} · {spread_text(pairs)}</div>"
        )
    return f'<div class="row"{marker}>{"".join(body)}</div>'


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-size: 1.4em; }}
.row {{ border-bottom: 1px solid #ddd; padding: .6em 0; }}
.row[data-verdict="wrong"] {{ border-left: 4px solid #d33; padding-left: .6em; }}
.num {{ color: #888; font-size: .85em; }}
.pred {{ font-weight: 600; }}
.truth {{ margin-left: .8em; }}
.row[data-verdict="wrong"] .mark {{ color: #c00; font-weight: 600; }}
.row[data-verdict="right"] .mark {{ color: #2a7; }}
.topk {{ font-size: .9em; }}
.tokens {{ line-height: 2; margin: .3em 0; }}
.tok {{ padding: .15em .25em; border-radius: 3px; }}
.tok.ws {{ color: #999; }}
.dir {{ color: #777; font-size: .85em; margin-right: .5em; }}
.top {{ color: #666; font-size: .85em; }}
.text {{ color: #555; font-size: .9em; white-space: pre-wrap; }}
.legend span {{ padding: .1em .4em; }}
.summary {{ background: #f6f6f6; padding: .5em .8em; }}
.capped {{ background: #fff6e0; padding: .5em .8em; }}
#only-mistakes:checked ~ .rows .row[data-verdict="right"] {{ display: none; }}
</style></head><body>
<h1>{title}</h1>
<p>Run: <code>{run}</code>. {count} text(s).{note}</p>
<p>Token shading: a token's attention weight against an even spread (1 / the text's
token count), the same scale for every text: unshaded at or below even, darkest at
{full:g}&times; even or more; hover a token for its weight. "Spread": the number of
tokens the weight is effectively spread over.</p>
<p class="legend">{legend}</p>
{summary}
{rows}
{capped}
</body></html>
"""


def _legend() -> str:
    steps = [
        (f"{ratio:g}× even", math.log2(ratio) / math.log2(FULL_SHADE)) for ratio in (1.5, 2, 4)
    ]
    steps.append((f"{FULL_SHADE:g}×+", 1.0))
    return "<span>≤ even</span>" + "".join(
        f'<span style="background: rgb{heat(level)}">{name}</span>' for name, level in steps
    )


def html_page(
    rows: list[dict[str, Any]],
    text_column: str,
    attention: list[str],
    run_dir: str,
    note: str = "",
    *,
    label_column: str | None = None,
    delimiter: str = "|",
    max_rows: int | None = None,
) -> str:
    """The page: each row numbered as in the input; with true labels, mistakes first;
    at most `max_rows` (default MAX_PAGE_ROWS) rows drawn."""
    max_rows = MAX_PAGE_ROWS if max_rows is None else max_rows
    found = verdicts(rows, text_column, label_column, delimiter)
    wrong, known = wrong_count(found)
    order = sorted(range(len(rows)), key=lambda i: not (found[i] and found[i][1]))
    shown = order[:max_rows]
    summary = ""
    if known:
        summary = (
            f'<p class="summary">True labels from column <code>{html.escape(str(label_column))}'
            f"</code>: <b>{wrong} of {known} predictions wrong</b>"
            + (", listed first." if wrong else ".")
            + "</p>\n"
        )
        if wrong:
            summary += (
                '<input type="checkbox" id="only-mistakes"> <label for="only-mistakes">'
                "show mistakes only</label>"
            )
    capped = ""
    if len(rows) > len(shown):
        capped = (
            f'<p class="capped">Showing {len(shown)} of {len(rows)} texts'
            + (" (mistakes first)" if wrong else "")
            + f"; {len(rows) - len(shown)} not shown (a page holds at most {max_rows}). "
            "To see them, predict a part of the file at a time, or write every weight "
            "with <code>--with-attention --output FILE</code>.</p>"
        )
    parts = [_row_html(i + 1, rows[i], text_column, attention, found[i]) for i in shown]
    return PAGE.format(
        title="seqcls predictions with attention",
        run=html.escape(run_dir),
        count=len(rows),
        note=f" {html.escape(note)}" if note else "",
        full=FULL_SHADE,
        legend=_legend(),
        summary=summary + capped,
        rows=f'<div class="rows">\n{chr(10).join(parts)}\n</div>',
        capped=capped,
    )
