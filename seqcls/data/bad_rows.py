"""Bad rows: a row that cannot be used (`Problem`), and `data.on_bad_rows`, which says what
becomes of them (`apply_policy` for one file, `BadRows` for the splits of a run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from seqcls.errors import DataError

MAX_LISTED_PROBLEMS = 20


@dataclass
class Problem:
    """One bad row: where it is, a short reason (counted), and the full explanation."""

    where: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


def apply_policy(
    problems: list[Problem],
    policy: str,
    name: str,
    report=None,
    counts: dict[str, int] | None = None,
    fix: str = "set data.on_bad_rows:",
) -> dict[str, int]:
    """Enforce `data.on_bad_rows` on the problems of one file; return the count per reason.

    error: raise one DataError listing the first problems and the total, and how to
    choose another policy (`fix`: the config key; eval and predict name their option).
    skip: the rows are already left out; report the counts.
    warn: as skip, and list the first problems.
    `counts` gives the totals when `problems` holds only the first few (a streamed file).
    """
    if counts is None:
        counts = dict(Counter(problem.reason for problem in problems))
    total = sum(counts.values())
    if not total:
        return counts
    listed = "\n  ".join(str(problem) for problem in problems[:MAX_LISTED_PROBLEMS])
    more = total - min(len(problems), MAX_LISTED_PROBLEMS)
    summary = ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()))
    if policy == "error":
        raise DataError(
            f"{total} bad row(s) in {name} ({summary}):\n  {listed}"
            + (f"\n  ... and {more} more" if more > 0 else "")
            + f"\nfix the rows, or {fix} skip (leave them out, counted) or warn "
            "(leave them out and list them)"
        )
    if report is not None:
        report(f"{name}: left out {total} bad row(s) ({summary})")
        if policy == "warn":
            report("  " + listed + (f"\n  ... and {more} more" if more > 0 else ""))
    return counts


class BadRows:
    """`data.on_bad_rows` applied split by split: the notes it reports, the counts per
    split and reason of the rows left out (skip, warn)."""

    def __init__(self, policy: str, notes: list[str] | None = None):
        self.policy = policy
        self.notes: list[str] = [] if notes is None else notes
        self.counts: dict[str, dict[str, int]] = {}

    def enforce(
        self, name: str, source: str, problems: list[Problem], counts: dict | None = None
    ) -> None:
        """apply_policy to one split's problems (`counts`: their totals, when `problems`
        holds only the first few)."""
        found = apply_policy(problems, self.policy, source, self.notes.append, counts)
        if found:
            merged = self.counts.setdefault(name, {})
            for reason, count in found.items():
                merged[reason] = merged.get(reason, 0) + count
