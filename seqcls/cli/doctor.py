"""`seqcls doctor`: doctor_report (seqcls.training.runtime) and which seqcls extras are
installed, printed as a table or JSON."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from seqcls.cli.app import app, handle_errors, import_tensorflow_quietly, out

# The modules each extra of pyproject.toml's [project.optional-dependencies] provides (dev
# is the contributors' own), and what it adds. An extra is installed when all import.
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "gpu": (("nvidia.cudnn", "nvidia.cublas"), "TensorFlow's CUDA libraries, for NVIDIA GPUs"),
    "plots": (("matplotlib",), "confusion matrix, training and ROC/PR curves in report.html"),
    "tensorboard": (("tensorboard",), "output.tensorboard: true"),
    "onnx": (("tf2onnx", "onnxruntime"), "seqcls export --format onnx, predict on ONNX Runtime"),
    "serve": (("fastapi", "uvicorn", "prometheus_client"), "seqcls serve"),
    "bench": (("sklearn", "aiohttp", "fasttext"), "the peer baselines of benchmarks/"),
}
# Versions doctor_report looks up that no user needs (jax: one benchmark's backend).
NOT_USER_FACING = ("jax",)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, a broken install
        return False


def installed_extras() -> dict[str, dict]:
    """{extra: {"installed": bool, "missing": [modules], "adds": what it is for}}."""
    extras = {}
    for name, (modules, adds) in EXTRAS.items():
        missing = [module for module in modules if not _importable(module)]
        extras[name] = {"installed": not missing, "missing": missing, "adds": adds}
    return extras


@app.command(short_help="Versions, devices, CUDA/cuDNN and the installed extras.")
@handle_errors
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
) -> None:
    """Versions, visible devices, CUDA/cuDNN as TensorFlow reports them, and advice."""
    import json

    import_tensorflow_quietly()
    from seqcls.training.runtime import doctor_report

    facts = doctor_report()
    facts["versions"] = {
        name: version
        for name, version in facts["versions"].items()
        if version is not None or name not in NOT_USER_FACING
    }
    facts["extras"] = installed_extras()
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
    for name, extra in facts["extras"].items():
        state = (
            "installed" if extra["installed"] else f"not installed: pip install 'seqcls[{name}]'"
        )
        table.add_row(f"extra {name}", f"{state} ({extra['adds']})")
    return table
