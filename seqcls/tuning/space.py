"""The search space: the config's `tune.space`, or DEFAULT_SPACE for a config without
one; drawing a trial's values from it (Optuna's suggest_*), and the config a set of
values makes.

A space maps config key paths to distributions (seqcls.config.Distribution). The schema
has already checked each key path and each distribution's values against the config
(seqcls.config.space_problems); here a range becomes integers for an integer setting and
floats otherwise (seqcls.config.distribution_kind). No Optuna at import time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from seqcls.config import (
    Config,
    Distribution,
    distribution_kind,
    resolved_dict,
    space_problems,
    validate_config,
)
from seqcls.messages import note

# For a config without `tune.space`: the settings of the shipped Bi-LSTM that matter most,
# in ranges that suit text classification (README, "Hyperparameter search").
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "training.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
    "training.batch_size": {"choices": [32, 64, 128]},
    "model.embedding.dim": {"choices": [64, 128, 256]},
    "model.encoder.units": {"choices": [32, 64, 128, 256]},
    "model.encoder.dropout": {"low": 0.0, "high": 0.5},
}


@dataclass(frozen=True)
class Dimension:
    """One searched setting: its key path, its distribution, and how values are drawn
    (int, float or categorical)."""

    key: str
    distribution: Distribution
    kind: str


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> list[str]:
        return [dimension.key for dimension in self.dimensions]

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The space as the user would write it (what the study records)."""
        return {
            dimension.key: dimension.distribution.model_dump(mode="json", exclude_defaults=True)
            for dimension in self.dimensions
        }


def search_space(config: Config) -> tuple[SearchSpace, list[str]]:
    """The space `config` searches, and notes on the default space's entries left out
    (a setting the config fixes, such as the embedding width of pretrained vectors)."""
    raw = resolved_dict(config)
    context = {"new_config": True}
    given = config.tune.space if config.tune is not None else None
    notes = []
    if given:
        chosen = dict(given)
    else:
        chosen = {}
        for key, entry in DEFAULT_SPACE.items():
            distribution = Distribution.model_validate(entry)
            if key == "model.embedding.dim" and config.model.embedding.pretrained is not None:
                notes.append(note(f"{key} is not searched: the pretrained vectors fix it"))
                continue
            problems = space_problems(raw, {key: distribution}, context)
            if problems:
                notes.append(note(f"{problems[0]}; left out of the default space"))
                continue
            chosen[key] = distribution
    dimensions = tuple(
        Dimension(key, distribution, distribution_kind(raw, key, distribution, context))
        for key, distribution in chosen.items()
    )
    return SearchSpace(dimensions), notes


def _listed(distribution: Distribution) -> bool:
    """Choices with a list among them: Optuna takes them as JSON text ("[128, 64]")."""
    return any(isinstance(choice, list) for choice in distribution.choices or [])


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Draw a value for every dimension from the trial's sampler (TPE)."""
    params = {}
    for dimension in space.dimensions:
        d = dimension.distribution
        if dimension.kind == "categorical" and _listed(d):
            choices = [json.dumps(choice) for choice in d.choices]
            params[dimension.key] = json.loads(trial.suggest_categorical(dimension.key, choices))
        elif dimension.kind == "categorical":
            params[dimension.key] = trial.suggest_categorical(dimension.key, d.choices)
        elif dimension.kind == "int":
            params[dimension.key] = trial.suggest_int(
                dimension.key, d.low, d.high, step=d.step or 1, log=d.log
            )
        else:
            step = float(d.step) if d.step is not None else None
            params[dimension.key] = trial.suggest_float(
                dimension.key, float(d.low), float(d.high), step=step, log=d.log
            )
    return params


def values_of(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """A finished trial's values as the config takes them (list choices decoded)."""
    listed = {
        d.key for d in space.dimensions if d.kind == "categorical" and _listed(d.distribution)
    }
    return {key: json.loads(value) if key in listed else value for key, value in params.items()}


def config_with(config: Config, params: dict[str, Any], *, test: bool) -> Config:
    """`config` with `params` (key path -> value) set, validated as a new config (a
    combination of values can break a rule that each value alone keeps: a ConfigError).
    Without `test`, data.test is removed: a trial never reads the test split."""
    raw = resolved_dict(config)
    for key, value in params.items():
        *sections, name = key.split(".")
        node = raw
        for part in sections:
            node = node.setdefault(part, {})
        node[name] = value
    if not test:
        raw["data"]["test"] = None
    return validate_config(raw, new_config=True)


def short_names(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix that tells each key apart (units, encoder.dropout)."""
    names = {}
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            suffix = ".".join(parts[-size:])
            if sum(1 for other in keys if other == suffix or other.endswith("." + suffix)) == 1:
                names[key] = suffix
                break
        else:
            names[key] = key
    return names
