"""What a search leaves in its tune directory besides the study and the trials' runs:
tune.yaml (the search, for people), trials.csv, best.yaml, the plots, and the best
trial's test metrics. Every file is written atomically."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any

import yaml

from seqcls.config import config_to_yaml
from seqcls.errors import SeqclsError
from seqcls.messages import Report, note, warning
from seqcls.run import artifacts
from seqcls.tuning.results import trial_rows
from seqcls.tuning.space import config_with, values_of
from seqcls.tuning.study import Search, states

SEARCH_YAML = "tune.yaml"
TRIALS_CSV = "trials.csv"
BEST_YAML = "best.yaml"
TEST_METRICS_JSON = "best_test_metrics.json"
HISTORY_PNG = "optimization_history.png"
IMPORTANCES_PNG = "param_importances.png"


def write_search_yaml(tune_dir: Path, search: Search) -> Path:
    """The config with the search as recorded (the space spelled out, defaults too)."""
    record = search.record()
    tune = {**record["tune"], "space": record["space"]}
    header = (
        f"# The search of {tune_dir} (its study.db holds the same). Continue it with:\n"
        f"#   seqcls tune --resume {tune_dir}\n"
    )
    path = tune_dir / SEARCH_YAML
    text = yaml.safe_dump({**record["config"], "tune": tune}, sort_keys=False)
    artifacts.write_text(path, header + text)
    return path


def write_trials_csv(tune_dir: Path, study: Any, search: Search) -> Path:
    """One row per trial: number, state, the values tried (one column per key path),
    objective, epochs, seconds, note."""
    columns = ["number", "state", *search.space.keys, "objective", "epochs", "seconds", "note"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in trial_rows(study, search):
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    path = tune_dir / TRIALS_CSV
    artifacts.write_text(path, buffer.getvalue())
    return path


def write_best_yaml(tune_dir: Path, search: Search, best: Any) -> Path:
    """The complete config of the best trial, its test split back and without `tune`:
    what `seqcls train best.yaml` trains."""
    config = config_with(search.config, values_of(best.params, search.space), test=True)
    run_dir = tune_dir / best.user_attrs.get("run_dir", "")
    header = (
        f"# The best trial ({best.number}) of the search in {tune_dir}: {search.metric} "
        f"{best.value:.6g} ({search.direction}).\n# Its run directory: {run_dir}\n"
        "# Train it again (with its test split): seqcls train best.yaml\n"
    )
    path = tune_dir / BEST_YAML
    artifacts.write_text(path, header + config_to_yaml(config))
    return path


def write_plots(tune_dir: Path, study: Any, search: Search, report: Report) -> list[Path]:
    """The optimisation history and the parameter importances (Optuna's matplotlib
    plots), as output.plots says (auto: when matplotlib is installed)."""
    from seqcls.reporting import plots

    if not plots.wanted(search.config.output.plots):
        return []
    if len(states(study, "COMPLETE")) < 2:
        report(note("the search plots need at least 2 complete trials; none drawn"))
        return []
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    drawn = []
    for name, draw in (
        (HISTORY_PNG, optuna_plots.plot_optimization_history),
        (IMPORTANCES_PNG, optuna_plots.plot_param_importances),
    ):
        # Optuna sets its own style; rc_context puts matplotlib's settings back after.
        with matplotlib.rc_context(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = draw(study, target_name=search.metric)
            except (ValueError, RuntimeError, ZeroDivisionError) as error:
                report(note(f"{name} not drawn: {error}"))
                continue
            figure = axes.figure
            try:
                with artifacts.atomic_path(tune_dir / name, ".png") as temporary:
                    figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
            finally:
                plt.close(figure)
        drawn.append(tune_dir / name)
    return drawn


def best_test_metrics(tune_dir: Path, search: Search, best: Any, report: Report) -> dict | None:
    """The best trial's run evaluated on data.test: the only time the search reads the
    test split. Kept in best_test_metrics.json; a later run of the same search whose best
    trial is the same reuses it rather than reading the test split again."""
    test = search.config.data.test
    if test is None:
        report(note("data.test is not set: the best trial is not evaluated on a test split"))
        return None
    path = tune_dir / TEST_METRICS_JSON
    if path.is_file():
        try:
            previous = artifacts.read_json(path)
        except ValueError:
            previous = {}
        if previous.get("trial") == best.number and previous.get("file") == str(test):
            return previous
    from seqcls.inference.evaluation import evaluate_file
    from seqcls.inference.predict import load_run

    run_dir = tune_dir / best.user_attrs["run_dir"]
    try:
        metrics = evaluate_file(load_run(run_dir), Path(test), report=report)
    except SeqclsError as error:  # the search's results stand; say why there is no test score
        report(warning(f"the best trial was not evaluated on {test}: {error}"))
        return None
    result = {"trial": best.number, "run_dir": str(run_dir), **metrics}
    artifacts.write_json(path, result)
    return result
