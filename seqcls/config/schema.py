"""Config, the root of the schema: its sections, the rules across sections, the
model-size limit, and the check of the `tune` section (config/tune.py) against Config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, model_validator

from seqcls.config.estimate import parameters_by_part
from seqcls.config.fields import RunName, Section, Seed, is_new_config
from seqcls.config.limits import MAX_PARAMETERS
from seqcls.config.sections import (
    AbstentionConfig,
    DataConfig,
    ModelConfig,
    OutputConfig,
    PreprocessingConfig,
    RuntimeConfig,
    TrainingConfig,
)
from seqcls.config.tune import Distribution, TuneConfig
from seqcls.config.tune import distribution_kind as kind_for_schema
from seqcls.config.tune import space_problems as problems_for_schema

# ------------------------------------------------------------------------------ Config


class Config(Section):
    name: RunName = "run"
    seed: Seed = 42
    # auto: binary (one sigmoid output) for two labels, multiclass (softmax) otherwise.
    # multilabel: any number of labels per text (sigmoid per label, tuned thresholds).
    # tagging: one tag per token (many-to-many).
    task: Literal["auto", "multiclass", "binary", "multilabel", "tagging"] = "auto"
    data: DataConfig
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    abstention: AbstentionConfig = Field(default_factory=AbstentionConfig)
    # `seqcls tune`'s search space and objective. Not part of a run: left out of every
    # config seqcls writes (config.yaml, best.yaml), and ignored by `seqcls train`.
    tune: TuneConfig | None = Field(default=None, exclude=True)

    @model_validator(mode="wrap")
    @classmethod
    def _tune_space_fits(cls, data: Any, handler: Any, info: ValidationInfo) -> Config:
        config = handler(data)
        space = config.tune.space if config.tune is not None else None
        if space and isinstance(data, dict):
            problems = problems_for_schema(data, space, cls, info.context)
            if problems:
                raise ValueError("\n  ".join(problems))
        return config

    @model_validator(mode="after")
    def _task_fits(self) -> Config:
        from seqcls.tasks import reading_task

        if self.data.streaming and self.runtime.distribution == "multi_worker":
            # Every worker would read every shard (the files are not split per worker).
            raise ValueError(
                "data.streaming is not supported with runtime.distribution multi_worker: each "
                "worker would read every file; train in memory (data.streaming: false) or use "
                "runtime.distribution mirrored on one machine"
            )
        if self.runtime.distribution != "none":
            for key, value, default in (
                ("training.ema_momentum", self.training.ema_momentum, None),
                ("model.ensemble", self.model.ensemble, 1),
            ):
                if value != default:
                    # The distributed loop computes the task's plain loss on the raw weights.
                    raise ValueError(
                        f"{key} is not supported with runtime.distribution "
                        f"{self.runtime.distribution} (its training loop has no weight "
                        f"averaging and no ensemble loss); remove {key} or set "
                        "runtime.distribution: none"
                    )
        problems = reading_task(self.task).config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _fits_in_memory(self, info: ValidationInfo) -> Config:
        if not is_new_config(info):
            return self
        parts = estimate_parameters(self)
        total = sum(parts.values())
        if total > MAX_PARAMETERS:
            largest = max(parts, key=parts.__getitem__)
            raise ValueError(
                f"model: about {total:,} parameters, more than the {MAX_PARAMETERS:,} seqcls "
                f"builds (the weights alone would take {total * 4 / 2**30:,.0f} GiB, four times "
                f"that with the optimizer's state); the largest part is {largest} "
                f"({parts[largest]:,}); make it smaller"
            )
        return self


def estimate_parameters(config: Config) -> dict[str, int]:
    """Parameters of the model `config` describes, per part (named by its config keys),
    computed as modeling/build.py builds it, without TensorFlow. The embedding counts
    preprocessing.max_tokens rows (the vocabulary can come out smaller); the output
    layer, sized by the labels in the data, is left out."""
    from seqcls.tasks import reading_task

    per_token = reading_task(config.task).per_token
    return parameters_by_part(config.model, config.preprocessing.max_tokens, per_token)


def space_problems(
    raw: dict[str, Any], space: dict[str, Distribution], context: Any = None
) -> list[str]:
    """tune.space_problems against Config: what is wrong with each tune.space entry."""
    return problems_for_schema(raw, space, Config, context)


def distribution_kind(
    raw: dict[str, Any], key: str, distribution: Distribution, context: Any = None
) -> Literal["int", "float", "categorical"]:
    """tune.distribution_kind against Config: how values are drawn for `key`."""
    return kind_for_schema(raw, key, distribution, Config, context)
