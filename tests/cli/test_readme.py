"""README's `seqcls ...` command lines run as written: each example parses against the
real command (its options exist, its arguments fit: click's make_context parses without
running it), and each usage line ("[--output FILE]") names options the command has, with
choices it accepts."""

from __future__ import annotations

import enum
import re
import shlex
import typing
from pathlib import Path

import pytest
import typer.main

from seqcls.cli import app

README = Path(__file__).parents[2] / "README.md"
SEPARATORS = {"|", "||", "&&", ";"}
# An option in a usage line: --name or -x, where a token or a bracket starts.
OPTION = re.compile(r"(?:^|[\[\s])(--?[A-Za-z][\w-]*)")


def shell_lines(text: str) -> list[str]:
    """The lines of README's bash blocks, with "\\" continuations joined and a usage
    line's indented "[...]" continuation joined to the line it continues."""
    lines: list[str] = []
    for block in re.findall(r"^ *```bash\n(.*?)^ *```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            if lines and re.match(r"\s+\[", line):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
    return lines


def seqcls_commands(text: str) -> list[list[str]]:
    """Every `seqcls ...` command in README's bash blocks, as its words after `seqcls`
    (comments and VAR=value prefixes dropped; a pipeline or `&&` chain gives each of its
    commands)."""
    commands = []
    for line in shell_lines(text):
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in [*words, ";"]:
            if word in SEPARATORS:
                if command and command[0] == "seqcls":
                    commands.append(command[1:])
                command = []
            elif command or not re.match(r"^[A-Za-z_]\w*=", word):  # not VAR=value before it
                command.append(word)
    return commands


def choices(parameter) -> list[str] | None:
    annotation = parameter.type_descriptor.annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return [member.value for member in candidate]
    return None


def check_usage(command, name: str, words: list[str]) -> None:
    """A usage line: every option it shows exists, and `--opt a|b|c` lists valid choices."""
    by_option = {
        option: parameter
        for parameter in command.params
        for option in [*parameter.opts, *parameter.secondary_opts]
    }
    line = " ".join(words)
    for option in OPTION.findall(line):
        assert option in by_option, f"README: `seqcls {name}` has no option {option}: {line}"
        listed = re.search(re.escape(option) + r" ([\w-]+(?:\|[\w-]+)+)", line)
        accepted = choices(by_option[option])
        if listed and accepted:
            for value in listed.group(1).split("|"):
                assert value in accepted, f"README: {option} {value} is not a choice: {line}"


def test_readme_every_seqcls_command_parses_as_written():
    group = typer.main.get_command(app)
    commands = seqcls_commands(README.read_text(encoding="utf-8"))
    names = {words[0] for words in commands if not words[0].startswith("-")}
    # The check reads what it should: the Commands block lists every command.
    assert names >= set(group.commands), sorted(set(group.commands) - names)
    assert ["predict", "runs/banking77-latest", "-", "--explain"] in commands
    for words in commands:
        if words[0].startswith("-"):  # options of seqcls itself (--version)
            check_usage(group, "", words)
            continue
        name, arguments = words[0], words[1:]
        assert name in group.commands, f"README: no command `seqcls {name}`"
        command = group.commands[name]
        if any(word.startswith("[") or word == "..." for word in arguments):
            check_usage(command, name, arguments)
        else:
            # A pattern (runs/banking77-*) breaks once it matches two runs.
            assert not [word for word in arguments if set(word) & set("*?")], words
            # An example: parsed exactly as the shell would pass it, nothing run.
            command.make_context(name, list(arguments))


def test_readme_check_catches_an_unknown_option_and_a_bad_choice():
    group = typer.main.get_command(app)
    from typer._click.exceptions import UsageError

    with pytest.raises(UsageError, match="No such option: -x"):
        group.commands["predict"].make_context("predict", ["RUN", "in.csv", "-x", "p.csv"])
    with pytest.raises(AssertionError, match="no option --outptu"):
        check_usage(group.commands["eval"], "eval", ["RUN", "FILE", "[--outptu", "FILE]"])
    with pytest.raises(AssertionError, match="not a choice"):
        check_usage(group.commands["eval"], "eval", ["RUN", "[--on-bad-rows", "error|drop]"])


def test_readme_short_options_mean_the_same_everywhere():
    """-o names where a command writes, -q is --quiet, in every command that has them."""
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for parameter in command.params:
            if "-o" in parameter.opts:
                assert parameter.name in ("output", "output_dir"), (name, parameter.opts)
            if "-q" in parameter.opts:
                assert parameter.opts == ["--quiet", "-q"] or "--quiet" in parameter.opts
    for name in ("train", "eval", "predict", "init", "export"):
        assert any("-o" in p.opts for p in group.commands[name].params), name
