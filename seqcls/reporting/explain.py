"""Attention you can read: each text with its tokens shaded by attention weight and the
prediction with its probability, in the terminal (`predict --explain`) or as one
self-contained HTML page (`predict --html FILE`).

The rows come from predict_table(..., with_attention=True): every attention column
holds [token, weight] pairs; with predict --top-k the k most probable labels are shown
under the prediction. Shading is relative to the row's largest weight, so
short and long texts read alike; the weights themselves are printed for the top tokens.
`write_page` writes the page for a run (with a note on what multi-head weights mean).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

TOP_TOKENS = 5


def _prediction(row: dict[str, Any]) -> str:
    if "predicted_label" in row:
        return f"{row['predicted_label']} ({row['predicted_probability']:.3f})"
    return row.get("predicted_labels") or "(no label above its threshold)"


def _top_labels(row: dict[str, Any]) -> str:
    """'top 3: a 0.812, b 0.100, c 0.088' from the row's top1_label, top1_probability, ...
    columns (predict --top-k); empty without them."""
    ranked = []
    while f"top{len(ranked) + 1}_label" in row:
        rank = len(ranked) + 1
        ranked.append(f"{row[f'top{rank}_label']} {float(row[f'top{rank}_probability']):.3f}")
    return f"top {len(ranked)}: " + ", ".join(ranked) if ranked else ""


def _relative(pairs: list[list[Any]]) -> list[float]:
    top = max((float(weight) for _, weight in pairs), default=0.0)
    return [float(weight) / top if top > 0 else 0.0 for _, weight in pairs]


def _heat(relative: float) -> tuple[int, int, int]:
    """Pale yellow (little attention) to deep orange (the row's most attended token)."""
    return (255, int(245 - 125 * relative), int(200 - 200 * relative))


def _direction(column: str) -> str:
    suffix = column.removeprefix("attention").lstrip("_")
    return f" ({suffix})" if suffix else ""


def render_terminal(
    console: Any, rows: list[dict[str, Any]], text_column: str, attention: list[str]
) -> None:
    from rich.text import Text

    for number, row in enumerate(rows, 1):
        console.print(Text(f"{number}. {_prediction(row)}", style="bold"))
        if _top_labels(row):
            console.print(Text(f"   {_top_labels(row)}"), soft_wrap=True)
        for column in attention:
            pairs = row[column]
            line = Text("   ")
            for (token, _), relative in zip(pairs, _relative(pairs)):
                if relative >= 0.1:
                    red, green, blue = _heat(relative)
                    line.append(token, style=f"black on rgb({red},{green},{blue})")
                else:
                    line.append(token)
                line.append(" ")
            if len(attention) > 1:
                line.append(_direction(column).strip(), style="dim")
            if not pairs:
                break
            console.print(line, soft_wrap=True)
            top = sorted(pairs, key=lambda pair: -float(pair[1]))[:TOP_TOKENS]
            console.print(
                Text(
                    "   most attended"
                    + _direction(column)
                    + ": "
                    + ", ".join(f"{token} {float(weight):.2f}" for token, weight in top),
                    style="dim",
                ),
                soft_wrap=True,
            )
        if not pairs:
            console.print(Text(f"   (empty text) {row.get(text_column, '')!r}", style="dim"))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-size: 1.4em; }}
.row {{ border-bottom: 1px solid #ddd; padding: .6em 0; }}
.pred {{ font-weight: 600; }}
.topk {{ font-size: .9em; }}
.tokens {{ line-height: 2; margin: .3em 0; }}
.tok {{ padding: .15em .25em; border-radius: 3px; }}
.dir {{ color: #777; font-size: .85em; margin-right: .5em; }}
.top {{ color: #666; font-size: .85em; }}
.text {{ color: #555; font-size: .9em; white-space: pre-wrap; }}
.legend span {{ padding: .1em .4em; }}
</style></head><body>
<h1>{title}</h1>
<p>Run: <code>{run}</code>. {count} text(s). Token shading: attention weight relative to the
text's most attended token; hover a token for its weight.{note}</p>
<p class="legend">{legend}</p>
{rows}
</body></html>
"""


def html_page(
    rows: list[dict[str, Any]],
    text_column: str,
    attention: list[str],
    run_dir: str,
    note: str = "",
) -> str:
    legend = "".join(
        f'<span style="background: rgb{_heat(level)}">{level:.0%}</span>'
        for level in (0.1, 0.25, 0.5, 0.75, 1.0)
    )
    parts = []
    for row in rows:
        body = [f'<div class="pred">{html.escape(_prediction(row))}</div>']
        if _top_labels(row):
            body.append(f'<div class="topk">{html.escape(_top_labels(row))}</div>')
        body.append(f'<div class="text">{html.escape(str(row.get(text_column, "")))}</div>')
        for column in attention:
            pairs = row[column]
            if not pairs:
                body.append('<div class="top">(no tokens)</div>')
                break
            tokens = []
            for (token, weight), relative in zip(pairs, _relative(pairs)):
                style = f' style="background: rgb{_heat(relative)}"' if relative >= 0.1 else ""
                tokens.append(
                    f'<span class="tok"{style} title="{float(weight):.4f}">'
                    f"{html.escape(str(token))}</span>"
                )
            direction = (
                f'<span class="dir">{html.escape(_direction(column).strip())}</span>'
                if len(attention) > 1
                else ""
            )
            body.append(f'<div class="tokens">{direction}{" ".join(tokens)}</div>')
            top = sorted(pairs, key=lambda pair: -float(pair[1]))[:TOP_TOKENS]
            body.append(
                '<div class="top">most attended: '
                + html.escape(", ".join(f"{token} {float(weight):.2f}" for token, weight in top))
                + "</div>"
            )
        parts.append(f'<div class="row">{"".join(body)}</div>')
    return PAGE.format(
        title="seqcls predictions with attention",
        run=html.escape(run_dir),
        count=len(rows),
        note=f" {html.escape(note)}" if note else "",
        legend=legend,
        rows="\n".join(parts),
    )


MULTIHEAD_NOTE = (
    "Multi-head attention: the attention each token receives, averaged over heads "
    "and over the text's tokens."
)


def write_page(
    path: Path,
    rows: list[dict[str, Any]],
    text_column: str,
    attention: list[str],
    run_dir: str | Path,
    config: Any,
) -> None:
    """Write html_page for predictions of the run in `run_dir` (trained with `config`)."""
    from seqcls.run.artifacts import write_text

    note = MULTIHEAD_NOTE if config.model.attention.type == "multihead" else ""
    write_text(path, html_page(rows, text_column, attention, str(run_dir), note))
