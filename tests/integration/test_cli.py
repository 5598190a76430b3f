"""The command line itself, run as a user would: `--help` at the top and for
every command names each command and option with a description, and a bad
command line (unknown option or command, missing value, no command) is one
clear line on stderr with exit 2, the code of every usage error.

Needs only the built binary: no PostgreSQL, no daemon.
"""

import json
import re
import subprocess

import pytest

from harness.pgwarden import REPO_ROOT, binary_path

USAGE = 2
POLICY = str(REPO_ROOT / "policies" / "readonly-agent.yaml")

COMMANDS = ["run", "status", "sessions", "policy", "help", "version"]

# Every command and the options its --help must describe; groups of
# commands (sessions, policy) list their subcommands instead.
OUTPUT_FLAGS = ["-j,--json", "-p,--pretty"]
ADMIN_OPTIONS = OUTPUT_FLAGS + ["-c,--config FILE", "--admin-socket PATH"]
OPTIONS = {
    ("run",): ["-c,--config FILE REQUIRED"],
    ("status",): ADMIN_OPTIONS,
    ("sessions", "list"): ADMIN_OPTIONS + ["--identity NAME", "--upstream NAME", "--since T", "--until T",
                                          "-a,--all", "--limit N", "--dir DIR", "--public-key FILE"],
    ("sessions", "verify"): ["FILES ID|FILE ...", "--dir DIR", "--public-key FILE REQUIRED"] + OUTPUT_FLAGS,
    ("sessions", "replay"): ["SESSION ID|FILE REQUIRED", "-f,--follow", "--max-rows N", "--dir DIR",
                             "--public-key FILE"] + ADMIN_OPTIONS,
    ("sessions", "export"): ["SESSION ID|FILE", "--since T", "--until T", "--dir DIR",
                             "--public-key FILE"] + ADMIN_OPTIONS,
    ("policy", "check"): ["FILE REQUIRED"],
    ("policy", "explain"): ["FILE REQUIRED", "--identity NAME REQUIRED", "--sql TEXT REQUIRED",
                            "--upstream NAME", "--search-path TEXT", "--live",
                            "--dbname NAME Needs: --live"] + OUTPUT_FLAGS,
    ("help",): ["COMMAND ..."],
    ("version",): [],
}
SUBCOMMANDS = {("sessions",): ["list", "verify", "replay", "export"], ("policy",): ["check", "explain"]}


def pgwarden(*args):
    return subprocess.run([binary_path(), *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def described(help_text, name):
    """True when a line of help_text starts with `name` (after the indent)
    and goes on to say something about it."""
    pattern = r"^  " + re.escape(name) + r"(?: [A-Z][A-Za-z: .-]*)?\s{2,}\S"
    return re.search(pattern, help_text, re.MULTILINE) is not None


def test_top_level_help_lists_every_command():
    for flag in ("--help", "-h"):
        result = pgwarden(flag)
        assert result.returncode == 0 and result.stderr == "", result
        assert result.stdout.startswith("pgwarden: "), result.stdout
        for command in COMMANDS:
            assert described(result.stdout, command), (command, result.stdout)
        assert "--version" in result.stdout
    # `help` is the same text.
    assert pgwarden("help").stdout == pgwarden("--help").stdout


@pytest.mark.parametrize("command", list(OPTIONS) + list(SUBCOMMANDS), ids=" ".join)
def test_command_help_describes_every_option(command):
    result = pgwarden(*command, "--help")
    assert result.returncode == 0 and result.stderr == "", result
    assert f"Usage: pgwarden {' '.join(command)}" in result.stdout, result.stdout
    for option in OPTIONS.get(command, []) + SUBCOMMANDS.get(command, []) + ["-h,--help"]:
        assert described(result.stdout, option), (option, result.stdout)
    # `help COMMAND` shows the same.
    assert pgwarden("help", *command).stdout == result.stdout


def test_explain_help_says_what_the_defaults_and_exit_codes_are():
    text = pgwarden("policy", "explain", "--help").stdout
    assert "default: explicit_upstream" in text and '"$user", public' in text
    assert "Exit status: 0 allowed, 1 denied" in text


def test_help_never_fails():
    """What `help` cannot place it ignores, as it always has: the top level's help."""
    result = pgwarden("help", "no-such-command", "--no-such-option")
    assert result.returncode == 0 and result.stdout == pgwarden("--help").stdout, result


def test_version():
    for args in (["--version"], ["version"]):
        result = pgwarden(*args)
        assert result.returncode == 0, result
        assert re.fullmatch(r"pgwarden \d+\.\d+\.\d+\n", result.stdout), result.stdout


@pytest.mark.parametrize("command", [c for c in OPTIONS if c != ("help",)] + [()],
                         ids=lambda c: " ".join(c) or "top")
def test_unknown_option_is_a_usage_error(command):
    result = pgwarden(*command, "--no-such-option")
    assert result.returncode == USAGE, result
    assert result.stdout == ""
    path = " ".join(("pgwarden",) + command)
    assert result.stderr == f'{path}: unknown option "--no-such-option" (try {path} --help)\n', result.stderr


@pytest.mark.parametrize("args, message", [
    (["bogus"], 'pgwarden: unknown command "bogus"'),
    (["policy", "bogus"], 'pgwarden policy: unknown command "bogus"'),
    (["sessions", "-j", "list"], 'pgwarden sessions: unknown option "-j"'),
    (["run"], "pgwarden run: --config is required"),
    (["run", "--config"], "pgwarden run: --config: 1 required FILE missing"),
    (["run", "-c", "x.yaml", "extra"], 'pgwarden run: unexpected argument "extra"'),
    (["policy", "check"], "pgwarden policy check: FILE is required"),
    (["policy", "check", "a.yaml", "b.yaml"], 'pgwarden policy check: unexpected argument "b.yaml"'),
    (["policy", "explain", POLICY, "--sql", "SELECT 1"], "pgwarden policy explain: --identity is required"),
    (["policy", "explain", POLICY, "--identity", "readonly-agent", "--sql"], "pgwarden policy explain: --sql: 1 required TEXT missing"),
    (["policy", "explain", POLICY, "--identity", "readonly-agent", "--sql", "SELECT 1", "--dbname", "app"],
     "pgwarden policy explain: --dbname requires --live"),
    (["status", "--admin-socket"], "pgwarden status: --admin-socket: 1 required PATH missing"),
])
def test_bad_command_line_is_one_line_and_exit_2(args, message):
    result = pgwarden(*args)
    assert result.returncode == USAGE, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message) and lines[0].endswith(" --help)"), result.stderr


@pytest.mark.parametrize("args", [[], ["policy"], ["sessions"]], ids=lambda a: " ".join(a) or "top")
def test_no_command_prints_the_help_on_stderr_and_exits_2(args):
    result = pgwarden(*args)
    assert result.returncode == USAGE, result
    assert result.stdout == ""
    assert result.stderr == pgwarden(*args, "--help").stdout


def test_options_parse_in_any_order_and_with_equals():
    """--name=VALUE, -cVALUE-style values, options before the positional: the
    same decision. `--search-path=` is an empty search_path, not a request to
    take the next argument as the path."""
    base = pgwarden("policy", "explain", POLICY, "--identity", "readonly-agent", "--sql", "SELECT 1", "-j")
    assert base.returncode == 0, base
    reordered = pgwarden("policy", "explain", "-j", "--sql=SELECT 1", "--identity=readonly-agent", POLICY)
    assert reordered.returncode == 0 and reordered.stdout == base.stdout, reordered
    empty = pgwarden("policy", "explain", POLICY, "--identity", "readonly-agent", "--sql", "SELECT 1",
                     "--search-path=", "-j")
    assert empty.returncode == 0, empty
    assert json.loads(empty.stdout)["session"].startswith("search_path= "), empty.stdout
    pretty = pgwarden("policy", "explain", POLICY, "--identity", "readonly-agent", "--sql", "SELECT 1", "-p")
    assert pretty.stdout.startswith("{\n") and json.loads(pretty.stdout) == json.loads(base.stdout)
