"""MODEL_CARD.md's Model section: the architecture of a run's config in words (the
embedding, the encoder, the pooling, the head, the ensemble), the parameter count and
the labels."""

from __future__ import annotations

from typing import Any

from seqcls.tasks import get_task

MERGED = {
    "concat": "concatenated",
    "sum": "summed",
    "mul": "multiplied element-wise",
    "ave": "averaged",
    "none": "kept apart (each pooled on its own, then concatenated)",
}


def _embedding(embedding: Any, preprocessing: Any, vocabulary_size: int) -> str:
    tokens = "characters" if preprocessing.tokenizer == "char" else "words"
    cleaning = ["lowercased"] if preprocessing.lowercase else []
    strip, split = preprocessing.strip_punctuation, preprocessing.split_punctuation
    if split:
        cleaning.append("punctuation " + ("as word breaks" if strip else "split off as tokens"))
    elif strip:
        cleaning.append("no punctuation")
    words = [
        f"a vocabulary of {vocabulary_size:,} {tokens}"
        + (f" ({', '.join(cleaning)})" if cleaning else "")
        + f" (padding and `[UNK]` included), each a vector of {embedding.dim} dimensions"
    ]
    if embedding.pretrained:
        words.append(f"initialised from the pretrained vectors in `{embedding.pretrained}`")
    words.append("trained with the model" if embedding.trainable else "kept frozen")
    subwords = embedding.subwords
    if subwords is not None:
        words.append(
            f"with hashed character {subwords.min_n}-{subwords.max_n}-grams "
            f"({subwords.buckets:,} buckets) combined by {subwords.combine}"
        )
    words += [f"dropout {embedding.dropout:g}"] if embedding.dropout else []
    spatial = embedding.spatial_dropout
    words += [f"spatial dropout {spatial:g} (whole channels)"] if spatial else []
    return "- **Embedding**: " + "; ".join(words) + "."


def _encoder(encoder: Any) -> str:
    layers = "1 layer" if encoder.num_layers == 1 else f"{encoder.num_layers} stacked layers"
    cell = encoder.cell.upper()
    if encoder.bidirectional:
        backward = encoder.backward
        if backward is not None and (backward.cell or backward.units):
            back_cell = (backward.cell or encoder.cell).upper()
            directions = (
                f"a forward {cell} of {encoder.units} units and a backward {back_cell} "
                f"of {encoder.backward_units} units"
            )
        else:
            directions = f"{cell}, {encoder.units} units per direction"
        text = (
            f"{layers} of bidirectional {directions}; the two directions' outputs are "
            f"{MERGED[encoder.merge_mode]} ({encoder.output_width} features per token"
            + (" per direction" if encoder.merge_mode == "none" else "")
            + ")"
        )
    else:
        text = f"{layers} of a forward {cell} with {encoder.units} units"
    text += f"; dropout {encoder.dropout:g}" if encoder.dropout else ""
    text += (
        f"; recurrent dropout {encoder.recurrent_dropout:g}" if encoder.recurrent_dropout else ""
    )
    text += "; residual connections between the stacked layers" if encoder.residual else ""
    return f"- **Encoder**: {text}."


def _pooling(attention: Any, per_token: bool) -> str:
    described = {
        "additive": "additive attention pooling (Zhou et al. 2016): one weight per token "
        "(padding gets none), the text's vector is the weighted sum of the encoder's outputs",
        "multihead": f"multi-head self-attention ({attention.num_heads} heads, key_dim "
        f"{attention.key_dim}) over the encoder's outputs, then {attention.pooling} pooling",
        "last": "no attention: the encoder's final states are the text's vector",
    }
    text = described.get(attention.type) or described.get(
        attention.pooling, f"no attention: {attention.pooling} pooling of the encoder's outputs"
    )
    if attention.concat_pooling:
        text += f", with {' and '.join(attention.concat_pooling)} pooling concatenated beside it"
    if per_token:
        text = "none: the encoder's output at every token goes to the head"
    return f"- **Pooling**: {text}."


def _head(head: Any, kind: Any, num_labels: int) -> str:
    hidden = (
        f"hidden Dense layers of {', '.join(map(str, head.hidden))} units ({head.activation}"
        + (f", dropout {head.dropout:g}" if head.dropout else "")
        + "), then "
        if head.hidden
        else ""
    )
    units = kind.output_units(num_labels)
    per = " at every token" if kind.per_token else ""
    return f"- **Head**: {hidden}a Dense output of {units} unit(s) with {kind.activation}{per}."


def model_section(run: dict[str, Any]) -> list[str]:
    config, manifest = run["config"], run["manifest"]
    kind, model = get_task(run["task"]), config.model
    parameters = manifest.get("parameters")
    lines = [
        "## Model",
        "",
        _embedding(model.embedding, config.preprocessing, len(run["vocabulary"]["tokens"])),
        _encoder(model.encoder),
        _pooling(model.attention, kind.per_token),
        _head(model.head, kind, len(run["labels"])),
    ]
    if model.ensemble > 1:
        lines.append(
            f"- **Ensemble**: {model.ensemble} such models trained side by side, their "
            "probabilities averaged."
        )
    linear = manifest.get("linear")
    if isinstance(linear, dict) and "weight" in linear:
        chars = linear.get("char_ngrams")
        lines.append(
            f"- **Linear branch**: a linear SVM on TF-IDF n-grams of 1 to {linear.get('ngrams')} "
            + (
                f"tokens and the tokens' character {chars[0]}-{chars[1]} grams"
                if chars
                else "tokens"
            )
            + f", blended in: probabilities {linear['weight']:g} x network + "
            f"{1 - linear['weight']:g} x linear ("
            + (
                "the weight chosen on valid"
                if linear.get("weight_setting") == "auto"
                else "a fixed weight"
            )
            + ")."
        )
    if isinstance(parameters, int):
        lines.append(f"- **Parameters**: {parameters:,} (manifest.json).")
    return [
        *lines,
        "",
        f"Labels ({len(run['labels'])}): " + ", ".join(f"`{x}`" for x in run["labels"]),
    ]
