"""Help text a newcomer reads: whole command descriptions at 80 columns, placeholders
that say what to type."""

from typer.testing import CliRunner

from seqcls.cli import app

runner = CliRunner()


def help_text(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_description_is_whole_at_80_columns():
    text = help_text()
    commands = text.split("Commands:")[1].strip().splitlines()
    assert len(commands) == 10
    for line in commands:
        assert "..." not in line and len(line) <= 80, line


def test_placeholders_say_what_to_type():
    assert "--set KEY=VALUE" in help_text("train")
    assert "[CONFIG]" in help_text("train")
    assert "--format csv|tsv|jsonl" in help_text("predict")
    assert "--format saved_model|onnx" in help_text("export")
    assert "{CONFIG|RUN_DIR}" in help_text("summary")
    assert "<list[str]>" not in help_text("validate")
