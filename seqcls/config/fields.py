"""The types of settings: bounded integers (AtMost, Count), finite float32s, paths, text
encodings, run names, and Section, the strict base model of every config section."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from seqcls.config.limits import show


def is_new_config(info: ValidationInfo) -> bool:
    """Whether the config being validated is a user's new one (load_config), not one that
    seqcls wrote into a run directory. Sanity limits apply to new configs only: a run
    trained before a limit existed stays readable (predict, eval, resume)."""
    return bool(info.context and info.context.get("new_config"))


@dataclass(frozen=True)
class AtMost:
    """Upper bound of a setting, with the reason; every integer of the schema has one.

    `always`: a hard limit (past it, something crashes: nothing can have been trained with
    such a value); otherwise a sanity limit, checked for new configs only."""

    limit: int | float
    why: str
    always: bool = False

    def __call__(self, value: Any, info: ValidationInfo) -> Any:
        if (self.always or is_new_config(info)) and value > self.limit:
            limit = f"{self.limit:,}" if isinstance(self.limit, int) else f"{self.limit:g}"
            raise ValueError(
                f"got {show(value)}; at most {limit} is allowed ({self.why}); use a smaller value"
            )
        return value


def Count(limit: int, why: str, low: int = 1, always: bool = False) -> Any:  # noqa: N802
    """An integer setting from `low` to `limit` (used like a type)."""
    return Annotated[int, Field(ge=low), AfterValidator(AtMost(limit, why, always))]


SIZE = "a sanity limit far above any real model, which would not fit in memory"
PositiveInt = Count(2**31 - 1, "the largest 32-bit integer, far more than any run needs")
Width = Count(65_536, SIZE)  # units, embedding and hidden sizes, attention key size
Layers = Count(100, SIZE)
Heads = Count(1024, SIZE)
Vocabulary = Count(100_000_000, "a sanity limit far above any real vocabulary", low=3)
Length = Count(1_000_000, "a sanity limit far above any text a recurrent encoder can read")
BatchSize = Count(1_048_576, "a sanity limit far above any real batch")
Seed = Count(2**32 - 1, "seeds are unsigned 32-bit integers, as NumPy requires", 0, True)
# Floats that TensorFlow receives as float32 (larger ones become inf there).
Float32 = Annotated[
    float,
    AfterValidator(AtMost(3.4028234663852886e38, "the largest float32, TensorFlow's type", True)),
]
ClassWeight = Annotated[
    float,
    Field(gt=0.0),
    AfterValidator(AtMost(1_000_000, "weights are relative; far larger ones overflow the loss")),
]


def _path_text(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("an empty path; name a file, or remove the key")
    if isinstance(value, str):
        for part in Path(value).parts:
            if len(part.encode("utf-8", "surrogatepass")) > 255:
                raise ValueError(
                    f"the path has a part of more than 255 bytes ({show(part)}), longer "
                    "than any file system allows in one name; shorten it"
                )
    return value


# Path fields accept strings from YAML even though the models are strict.
PathField = Annotated[Path, Field(strict=False), BeforeValidator(_path_text)]
Column = Annotated[str, Field(min_length=1)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class Section(BaseModel):
    """Base for every config section: unknown keys, loose types and non-finite floats
    (.inf, .nan) are errors."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_default=True, allow_inf_nan=False
    )


def text_encoding(name: str) -> str:
    """Refuse what `open(path, encoding=name)` cannot read text with."""
    fix = "use a text encoding such as utf-8, latin-1 or cp1252"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"got {show(name)}, which is not a codec Python knows; {fix}") from None
    if not getattr(info, "_is_text_encoding", True):
        # rot13 maps str to str; base64, hex and zlib map bytes to bytes: none reads text.
        raise ValueError(
            f"got {show(name)}, a codec but not a text encoding (it does not turn bytes "
            f"into text); {fix}"
        )
    try:
        info.decode(b"")
    except Exception:  # e.g. `undefined`, which refuses everything
        raise ValueError(f"got {show(name)}, a codec that decodes nothing; {fix}") from None
    return name


def _name(value: str, info: ValidationInfo) -> str:
    # The run directory is named NAME-YYYYmmdd-HHMMSS[-N], within 255 bytes.
    if is_new_config(info) and len(value) > 200:
        raise ValueError(
            f"a name of {len(value):,} characters; at most 200 are allowed (the run "
            "directory's name adds a timestamp to it, within the 255 a file name may have)"
        )
    return value


RunName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), AfterValidator(_name)]
