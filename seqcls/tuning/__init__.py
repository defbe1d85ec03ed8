"""`seqcls tune`: hyperparameter search over a config's settings with Optuna (TPE
sampling, median pruning, a resumable SQLite study in the tune directory).

Modules, by role:
- space: the search space (tune.space, or DEFAULT_SPACE), a trial's values and config;
- study: DIR/study.db, created or resumed and checked; the sampler and the pruner;
- pruning: the Keras callback that reports each epoch to the trial and stops it when
  the pruner says so;
- trials: one trial (an ordinary run directory through training.train, without the
  test split) and the loop of trials one process runs;
- results, outputs: the trials as rows; trials.csv, best.yaml, plots, test metrics;
- progress: what the terminal shows per trial;
- search: run_search (what `seqcls tune` runs) and the tune directory;
- worker: `python -m seqcls.tuning.worker DIR`, the extra processes of --jobs.

Neither Optuna nor TensorFlow is imported at module level: `seqcls --help` stays fast.
"""

from __future__ import annotations

from seqcls.tuning.search import DEFAULT_TRIALS, TuneResult, parse_duration, run_search

__all__ = ["DEFAULT_TRIALS", "TuneResult", "parse_duration", "run_search"]
