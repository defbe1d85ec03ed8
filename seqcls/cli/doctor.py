"""`seqcls doctor`: doctor_report (seqcls.training.runtime), printed as a table or JSON."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from seqcls.cli.app import app, handle_errors, import_tensorflow_quietly, out


@app.command()
@handle_errors
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
) -> None:
    """Versions, visible devices, CUDA/cuDNN as TensorFlow reports them, and advice."""
    import json

    import_tensorflow_quietly()
    from seqcls.training.runtime import doctor_report

    facts = doctor_report()
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    out.print(_facts_table(facts))


def _facts_table(facts: dict) -> RichTable:
    table = RichTable(title="seqcls doctor", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for name, version in facts["versions"].items():
        table.add_row(name, version or "not installed")
    table.add_row("platform", facts["platform"])
    table.add_row("CPU cores", str(facts["cpu_count"]))
    table.add_row("Keras backend", facts["keras_backend"])
    table.add_row(
        "TensorFlow CUDA build",
        "yes" if facts["built_with_cuda"] else "no (pip install 'seqcls[gpu]' for GPUs)",
    )
    table.add_row("CUDA / cuDNN (built for)", f"{facts['cuda_version']} / {facts['cudnn_version']}")
    if facts["cuda_visible_devices"] is not None:
        table.add_row("CUDA_VISIBLE_DEVICES", facts["cuda_visible_devices"])
    gpus = facts["gpus"] or []
    table.add_row(
        "GPUs",
        "; ".join(
            f"{gpu['name']}: {gpu['device_name'] or '?'} (compute {gpu['compute_capability'] or '?'})"
            for gpu in gpus
        )
        or "none visible: training runs on the CPU",
    )
    table.add_row("mixed precision", facts["mixed_precision"])
    if facts["tf_config"]:
        table.add_row("TF_CONFIG", facts["tf_config"])
    return table
