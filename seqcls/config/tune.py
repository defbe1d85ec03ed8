"""The `tune` section: `seqcls tune`'s search space and objective (ignored by `seqcls
train`), and the checks of each `tune.space` entry against the config schema itself: its
key path names a setting, and every value the distribution can give (low, high, each
choice) is one that setting accepts. The schema is passed in (schema.Config), so this
module does not import it."""

from __future__ import annotations

import copy
import difflib
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field, ValidationError, model_validator

from seqcls.config.fields import Count, Section
from seqcls.config.limits import show
from seqcls.config.sections import Monitor

DISTRIBUTION_KEYS = ("low", "high", "log", "step", "choices")
# A distribution's whole numbers are bounded here; the setting they go to checks its own.
SearchInt = Annotated[int, Field(ge=-(2**53), le=2**53)]
Scalar = str | SearchInt | float | bool | None
# A list choice is for a list setting (model.head.hidden: {choices: [[], [64], [128, 64]]}).
Choice = Scalar | Annotated[list[Scalar], Field(max_length=100)]
# Every value of a space is checked by validating the whole config with it: bounded.
MAX_SPACE_VALUES = 256


class Distribution(Section):
    """Where `seqcls tune` looks for one setting's value: a range `{low, high, log, step}`
    (integers for an integer setting, floats otherwise) or a list `{choices: [...]}`."""

    low: SearchInt | float | None = None
    high: SearchInt | float | None = None
    # Sample evenly on a log scale (for a learning rate); needs low > 0.
    log: bool = False
    # Only multiples of step above low (a range); not with log.
    step: SearchInt | float | None = None
    choices: Annotated[list[Choice], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: object) -> object:
        # Named here: pydantic's own message cannot name the keys of a dict's value.
        if isinstance(data, dict):
            for key in data:
                if key not in DISTRIBUTION_KEYS:
                    hint = difflib.get_close_matches(str(key), DISTRIBUTION_KEYS, n=1)
                    raise ValueError(
                        f"unknown key {show(key)}"
                        + (f" (did you mean '{hint[0]}'?)" if hint else "")
                        + "; a distribution is {low, high, log, step} (a range) or "
                        "{choices: [...]} (a list)"
                    )
        return data

    @model_validator(mode="after")
    def _one_form(self) -> Distribution:
        ranged = self.model_fields_set & {"low", "high", "log", "step"}
        if self.choices is not None:
            if ranged:
                raise ValueError(
                    "give either choices (a list) or low and high (a range), not both; "
                    f"remove {', '.join(sorted(ranged))}"
                )
            shown = [f"{type(value).__name__}:{value!r}" for value in self.choices]
            if len(set(shown)) < len(shown):
                raise ValueError(f"choices {show(self.choices)} repeat a value; list each once")
            return self
        if self.low is None or self.high is None:
            raise ValueError(
                "a distribution needs low and high (a range, e.g. {low: 0.0001, high: 0.01, "
                "log: true}) or choices (a list, e.g. {choices: [64, 128]})"
            )
        if not self.low < self.high:
            raise ValueError(f"an empty range: low {self.low} must be less than high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low > 0 (got {self.low}); raise low or drop log")
        if self.step is not None and self.log:
            raise ValueError("step and log: true cannot go together; drop one")
        if self.step is not None and not 0 < self.step <= self.high - self.low:
            raise ValueError(
                f"step {self.step} must be above 0 and at most high - low ({self.high - self.low})"
            )
        return self

    @property
    def integral(self) -> bool:
        """A range of whole numbers: low, high and step (if any) are integers."""
        bounds = (self.low, self.high, self.step if self.step is not None else 1)
        return self.choices is None and all(isinstance(value, int) for value in bounds)

    def candidates(self) -> list[Choice]:
        """The values a setting must accept for this distribution to fit it."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


SearchCount = Count(1000, "a sanity limit far above any search", low=0)


class PruningConfig(Section):
    """Optuna's median pruner: a trial whose validation value at an epoch is worse than
    the median of earlier trials at that epoch stops there."""

    enabled: bool = True
    # Trials that run to the end before any may be pruned (the median needs company).
    startup_trials: SearchCount = 3
    # Epochs every trial trains before the pruner may stop it (at the end of the next one
    # at the earliest: 3 means from epoch 4; Optuna's n_warmup_steps is this + 1). Models
    # are still climbing in their first epochs: from epoch 2, the median pruner stopped
    # a trial with the best trial's learning rate (benchmarks/NOTES.md).
    warmup_epochs: SearchCount = 3


class TuneConfig(Section):
    """`seqcls tune`'s search (ignored by `seqcls train`)."""

    # The objective, a validation value per epoch; default: training.early_stopping.monitor.
    metric: Monitor | None = None
    # Default: minimize a loss, maximize anything else.
    direction: Literal["minimize", "maximize"] | None = None
    pruning: PruningConfig = Field(default_factory=PruningConfig)
    # Config key path -> distribution; default: seqcls.tuning.space.DEFAULT_SPACE.
    space: Annotated[dict[str, Distribution], Field(min_length=1, max_length=50)] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> TuneConfig:
        values = sum(len(d.candidates()) for d in (self.space or {}).values())
        if values > MAX_SPACE_VALUES:
            raise ValueError(
                f"the space lists {values} values (bounds and choices) in all; at most "
                f"{MAX_SPACE_VALUES} are allowed (each is checked against the config); use "
                "ranges rather than long lists of choices"
            )
        return self


# ---------------------------------------------------------------- tune.space key paths


def space_problems(
    raw: dict[str, Any],
    space: dict[str, Distribution],
    schema: type[BaseModel],
    context: Any = None,
) -> list[str]:
    """What is wrong with each `tune.space` entry for the config mapping `raw`: a key path
    that names no setting, or a value of the distribution (low, high, each choice) that
    the setting refuses (checked by validating `raw` with that value, so every rule of the
    schema applies). One message per entry, naming `tune.space.<key>`."""
    problems = []
    for key, distribution in space.items():
        problem = _key_problem(key, schema) or _value_problem(
            raw, key, distribution, schema, context
        )
        if problem:
            problems.append(f"tune.space.{key}: {problem}")
    return problems


def distribution_kind(
    raw: dict[str, Any],
    key: str,
    distribution: Distribution,
    schema: type[BaseModel],
    context: Any = None,
) -> Literal["int", "float", "categorical"]:
    """How values are drawn for `key`: from the choices, as integers (a range of whole
    numbers for an integer setting), or as floats (any other range)."""
    if distribution.choices is not None:
        return "categorical"
    if not distribution.integral:
        return "float"
    # A float setting takes a value between two whole numbers; an integer one does not.
    probe = distribution.low + 0.5
    return "float" if _refusal(raw, key, probe, schema, context) is None else "int"


def _key_problem(key: str, schema: type[BaseModel]) -> str | None:
    if key == "model.linear" or key.startswith("model.linear."):
        # A trial's objective is the network's valid metric during training; the linear
        # branch is fitted after it, and chooses its own blend weight on valid.
        return (
            "the linear branch is fitted after training and does not change a trial's "
            "objective (the network's valid metric); remove it from the space"
        )
    parts = key.split(".")
    if any(not part for part in parts):
        return "not a key path; name a setting with dots between its keys (model.encoder.units)"
    if parts[0] in ("tune", "data"):
        return (
            f"the {parts[0]} section cannot be searched (every trial reads the same data "
            "and is compared on the same validation split)"
        )
    model: type[BaseModel] = schema
    for depth, part in enumerate(parts):
        fields = model.model_fields
        where = ".".join(parts[:depth]) or "the top level"
        if part not in fields:
            hint = difflib.get_close_matches(part, list(fields), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            return f"no setting {show(part)} in {where}{suggestion}; there: {', '.join(fields)}"
        annotation = fields[part].annotation
        candidates = [annotation, *get_args(annotation)]
        sections = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        path = ".".join(parts[: depth + 1])
        if depth == len(parts) - 1 and sections:
            inner = ", ".join(sections[0].model_fields)
            return f"{path} is a section, not a setting; name one of its settings: {inner}"
        if depth < len(parts) - 1 and not sections:
            return f"{path} is a setting, not a section, so it has no {show(parts[depth + 1])}"
        model = sections[0] if sections else model
    return None


def _value_problem(
    raw: dict[str, Any], key: str, distribution: Distribution, schema: type[BaseModel], context: Any
) -> str | None:
    for value in distribution.candidates():
        refused = _refusal(raw, key, value, schema, context)
        if refused is not None:
            what = "choice" if distribution.choices is not None else "bound"
            return f"the {what} {show(value)} does not fit the setting: {refused}"
    return None


_PYDANTIC_PART = re.compile(r"[a-z][a-z-]*\[.*\]$|(constrained-)?(str|int|float|bool|bytes)$")


def _refusal(
    raw: dict[str, Any], key: str, value: Any, schema: type[BaseModel], context: Any
) -> str | None:
    """Why `schema` refuses `raw` with `key` set to `value` (None: it accepts it)."""
    candidate = copy.deepcopy({name: part for name, part in raw.items() if name != "tune"})
    node = candidate
    for part in key.split(".")[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            return f"{part} is {show(child)} in the config, not a section"
        node = child
    node[key.split(".")[-1]] = value
    try:
        schema.model_validate(candidate, context=context)
    except ValidationError as error:
        reasons = []
        for item in error.errors():
            loc = ".".join(str(p) for p in item["loc"] if not _PYDANTIC_PART.match(str(p)))
            message = item["msg"].removeprefix("Value error, ")
            reasons.append(message if loc in ("", key) else f"{loc}: {message}")
        return "; ".join(list(dict.fromkeys(reasons))[:3])
    return None
