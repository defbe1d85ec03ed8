"""What a study's trials came to, as rows: number, state, the values tried, the
objective, epochs, seconds and a note (why a trial was pruned or failed); and which
trial is best. Reading only; outputs.py writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqcls.tuning.study import Search

TRIALS_FOLDER = "trials"
# Optuna's states as trials.csv and the terminal spell them.
STATE_NAMES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "waiting",
}
INTERRUPTED = "interrupted: its process ended during the trial (marked failed)"


def trial_dir(tune_dir: Path, number: int) -> Path:
    """A trial's run directory: DIR/trials/0007."""
    return tune_dir / TRIALS_FOLDER / f"{number:04d}"


def trial_row(trial: Any, search: Search) -> dict[str, Any]:
    """One trial as a row (trials.csv, the table, the progress line). A pruned trial's
    objective is its last reported value, where it was stopped."""
    state = trial.state.name
    objective = trial.value if state == "COMPLETE" else None
    if state == "PRUNED" and trial.intermediate_values:
        objective = trial.intermediate_values[max(trial.intermediate_values)]
    attributes = trial.user_attrs
    return {
        "number": trial.number,
        "state": STATE_NAMES.get(state, state.lower()),
        **{key: trial.params.get(key) for key in search.space.keys},
        "objective": objective,
        "epochs": attributes.get("epochs"),
        "seconds": attributes.get("seconds"),
        "note": attributes.get("note", INTERRUPTED if state == "FAIL" else ""),
        "run_dir": attributes.get("run_dir"),
    }


def trial_rows(study: Any, search: Search) -> list[dict[str, Any]]:
    trials = sorted(study.get_trials(deepcopy=False), key=lambda trial: trial.number)
    return [trial_row(trial, search) for trial in trials]


def best_trial(study: Any) -> Any:
    """The best complete trial (by the study's direction), or None while there is none."""
    from seqcls.tuning.study import states

    if not states(study, "COMPLETE"):
        return None
    return study.best_trial
