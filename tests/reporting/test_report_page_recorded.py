"""report.html gives training's own record: the wall time manifest.json gives (one
measurement, taken before the reports are drawn), not only the epochs' seconds
(issue 18 item 14; needs finish.py to pass stopped_early and wall_seconds)."""

import json

from test_report_page import training_rows

from seqcls.reporting.report_sections import duration


def test_report_page_wall_time_is_the_manifests(trained_run):
    _, run_dir, _ = trained_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rows = training_rows((run_dir / "report.html").read_text(encoding="utf-8"))
    seconds = manifest["wall_seconds"]
    # manifest.json rounds to 0.01 s; the page shows 0.1 s.
    assert rows["wall time"] in {duration(seconds - 0.01), duration(seconds + 0.01)}
    assert "in the epochs" not in rows["wall time"]
