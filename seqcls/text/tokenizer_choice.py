"""Which tokenizer suits a set of texts: `seqcls init` writes the choice, `seqcls
validate` suggests char when a config says word. Plain Python, no TensorFlow.

The rule, over the train texts (up to SAMPLE_TEXTS of them, spread evenly):

- char when at least SINGLE_TOKEN_SHARE of the texts are a single whitespace-free token
  (product codes, URLs, domain names, hashtags, chemical or person names). A word
  vocabulary then holds whole texts: a text not seen in train is one out-of-vocabulary
  id, with nothing left to learn from; characters are shared between texts.
- char when at least NO_SPACE_SCRIPT_SHARE of the letters are in scripts written
  without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar,
  Tibetan): whitespace splits such a text into a few sentence-long "words".
- word otherwise.

Both shares are "most": one of the two kinds of text has to be the majority, so a data
set that only mixes some codes into ordinary sentences keeps word tokens.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

SINGLE_TOKEN_SHARE = 0.5
NO_SPACE_SCRIPT_SHARE = 0.5
# Texts looked at: enough for stable shares, few enough that init stays quick on a
# large file (the shares of an even sample, not of every text, beyond this).
SAMPLE_TEXTS = 10_000

# Unicode blocks of the scripts written without spaces between words (first, last
# code point, name), sorted by first code point. Hangul is not here: Korean is
# written with spaces.
NO_SPACE_BLOCKS = (
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"),
    (0x0F00, 0x0FFF, "Tibetan"),
    (0x1000, 0x109F, "Myanmar"),
    (0x1780, 0x17FF, "Khmer"),
    (0x19E0, 0x19FF, "Khmer"),
    (0x2E80, 0x2FDF, "Han"),  # radicals
    (0x3005, 0x3007, "Han"),  # 々 〆 〇
    (0x3040, 0x309F, "Hiragana"),
    (0x30A0, 0x30FF, "Katakana"),
    (0x31F0, 0x31FF, "Katakana"),
    (0x3400, 0x4DBF, "Han"),
    (0x4E00, 0x9FFF, "Han"),
    (0xA9E0, 0xA9FF, "Myanmar"),
    (0xAA60, 0xAA7F, "Myanmar"),
    (0xF900, 0xFAFF, "Han"),
    (0xFF66, 0xFF9F, "Katakana"),  # half-width
    (0x20000, 0x3134F, "Han"),
)
_NO_SPACE = re.compile(
    "[" + "".join(f"{chr(first)}-{chr(last)}" for first, last, _ in NO_SPACE_BLOCKS) + "]"
)
# What is not a letter: a letter is a word character that is neither a digit nor the
# underscore (str.isalpha, at the regular-expression engine's speed).
_NOT_LETTERS = re.compile(r"[\W\d_]+")


@dataclass(frozen=True)
class TokenizerChoice:
    """The tokenizer for a set of texts, the figures it rests on, and why in words."""

    tokenizer: str  # "word" or "char"
    reason: str
    texts: int  # texts looked at
    single_token_share: float  # of those texts, the share that is one token
    no_space_script_share: float  # of their letters, the share in a no-space script
    scripts: dict[str, int] = field(default_factory=dict)  # no-space script -> letters


@cache
def _script_letters() -> dict[str, re.Pattern]:
    """Each script's letters as a pattern: the code points of its blocks that are
    alphabetic (not Thai's vowel signs, nor the Kana middle dot)."""
    parts: dict[str, list[str]] = {}
    for first, last, name in NO_SPACE_BLOCKS:
        start = None
        for point in range(first, last + 2):
            letter = point <= last and chr(point).isalpha()
            if letter and start is None:
                start = point
            elif not letter and start is not None:
                parts.setdefault(name, []).append(f"{chr(start)}-{chr(point - 1)}")
                start = None
    return {name: re.compile("[" + "".join(ranges) + "]") for name, ranges in parts.items()}


def _count_scripts(texts: list[str]) -> Counter:
    """Letters per script written without spaces (none listed when none occur)."""
    scripts = Counter()
    for text in texts:
        if _NO_SPACE.search(text):
            for name, letters in _script_letters().items():
                # The letters removed, counted at the regular-expression engine's speed.
                scripts[name] += len(text) - len(letters.sub("", text))
    return +scripts  # without the zero counts


def _sample(texts: list[str]) -> list[str]:
    step = max(1, -(-len(texts) // SAMPLE_TEXTS))  # ceil: at most SAMPLE_TEXTS taken
    return texts[::step]


def _script_names(scripts: Counter) -> str:
    """'Han', 'Han/Hiragana/Katakana', named from the most letters down."""
    return "/".join(name for name, _ in scripts.most_common())


def choose_tokenizer(texts: list[str]) -> TokenizerChoice:
    """char or word for these texts by the rule in the module docstring."""
    sample = [text for text in _sample(texts) if text and not text.isspace()]
    single = sum(1 for text in sample if len(text.split(maxsplit=1)) == 1)
    scripts = _count_scripts(sample)
    # All the letters, counted only when some are in those scripts (in the usual case,
    # none, the texts are scanned once).
    letters = sum(len(_NOT_LETTERS.sub("", text)) for text in sample) if scripts else 0
    single_share = single / len(sample) if sample else 0.0
    script_share = sum(scripts.values()) / letters if letters else 0.0
    figures = {
        "texts": len(sample),
        "single_token_share": single_share,
        "no_space_script_share": script_share,
        "scripts": dict(scripts.most_common()),
    }
    if script_share >= NO_SPACE_SCRIPT_SHARE:
        kind = "a script" if len(scripts) == 1 else "scripts"
        reason = f"{script_share:.0%} of letters are {_script_names(scripts)}, {kind} "
        reason += "written without spaces"
        return TokenizerChoice("char", reason, **figures)
    if single_share >= SINGLE_TOKEN_SHARE:
        reason = f"{single_share:.0%} of texts are a single token with no spaces"
        return TokenizerChoice("char", reason, **figures)
    reason = f"most texts are several words ({single_share:.0%} are a single token"
    if scripts:
        reason += f"; {script_share:.0%} of letters are {_script_names(scripts)}"
    return TokenizerChoice("word", reason + ")", **figures)
