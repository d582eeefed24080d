#!/usr/bin/python3
"""tollctl's bash completion (packaging/bash-completion/tollctl) and the
tollgate.yaml(5) man page.

The completion is sourced into a non-interactive bash, once bare and once
after bash-completion's own script when that is installed, and driven the way
readline drives it (COMP_LINE, COMP_POINT, COMP_WORDS split at '=', COMP_CWORD).
It must offer every command and option that tollctl's --help prints, so that a
new one cannot go unnoticed, and the fixed values of --by and --format.  The
man page must name every key of lib/config.c's tg_keys_table and render
without warnings.  Needs TOLLCTL and TOLLGATE_SRC (make check sets both);
skips what needs bash, groff or man when they are missing."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("TOLLGATE_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from tg import ok, skip, done  # noqa: E402  (TAP output shared with the integration tests)
TOLLCTL = os.environ.get("TOLLCTL") or os.path.join(SRC, "build", "tollctl")
SCRIPT = os.path.join(SRC, "packaging", "bash-completion", "tollctl")
PAGE = os.path.join(SRC, "cmd", "tollgated", "tollgate.yaml.5")
BASH_COMPLETION = ["/usr/share/bash-completion/bash_completion", "/etc/bash_completion"]

def tollctl_help(*args):
    r = subprocess.run([TOLLCTL, *args, "--help"], capture_output=True, text=True, timeout=30)
    return r.stdout


def help_options(text):
    """The options a --help text offers: those of its usage paragraph and of
    the lines that describe an option (prose may name other commands' ones)."""
    option = r"(?<![\w-])--[a-z][a-z-]*"
    found = set(re.findall(option, text.split("\n\n")[0]))
    for line in text.splitlines():
        if re.match(r"\s+--[a-z]", line):
            found |= set(re.findall(option, line))
    return found


def comp_words(line):
    """COMP_WORDS and COMP_CWORD as readline makes them: words split at blanks,
    '=' a word of its own, an empty last word when the line ends in a blank."""
    words = []
    for w in line.split():
        parts = w.split("=")
        words.append(parts[0])
        for p in parts[1:]:
            words.append("=")
            if p:
                words.append(p)
    if line.endswith(" "):
        words.append("")
    return words, len(words) - 1


def complete(lines, preamble):
    """The completions of each command line, from one bash that sourced
    preamble and the script; None when bash fails."""
    script = [preamble, "source %s || exit 9" % shlex.quote(SCRIPT)]
    for line in lines:
        words, cword = comp_words(line)
        script.append("COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(%s); COMP_CWORD=%d"
                      % (shlex.quote(line), " ".join(shlex.quote(w) for w in words), cword))
        script.append("COMPREPLY=(); _tollctl; printf '%s\\037' \"${COMPREPLY[@]}\"; echo")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)],
                       capture_output=True, text=True, timeout=60, cwd=tmp)
    out = r.stdout.split("\n")
    if r.returncode != 0 or len(out) < len(lines):
        ok(False, "bash runs the completion", r.stderr)
        return None
    return [set(x for x in o.split("\x1f") if x) for o in out[:len(lines)]]


def completion_cases(mode, preamble):
    dims = {"key", "user", "team", "customer", "tag", "model", "provider", "day", "hour"}
    cases = [
        ("tollctl s", {"spend", "stat", "status"}, "a command's prefix"),
        ("tollctl spend --f", {"--format", "--fleet"}, "the options of spend that start so"),
        ("tollctl spend --by ", dims, "the values of spend --by"),
        ("tollctl spend --by d", {"day"}, "spend --by d"),
        ("tollctl spend --by=", dims, "spend --by= (one word with the option)"),
        ("tollctl spend --format ", {"table", "json", "csv"}, "the values of spend --format"),
        ("tollctl spend --format=j", {"json"}, "spend --format=j"),
        ("tollctl export --format ", {"csv", "jsonl"}, "the values of export --format"),
        ("tollctl reconcile --format ", {"table", "json"}, "the values of reconcile --format"),
        ("tollctl cost --shape ", {"auto", "openai", "responses", "anthropic", "gemini", "bedrock",
                                   "deepseek", "xai", "cohere"}, "the values of cost --shape"),
        ("tollctl logs --flag unp", {"unpriced"}, "a flag name for logs --flag"),
        ("tollctl keys list --", {"--all", "--json", "--ledger", "--help"}, "the options of keys list"),
        ("tollctl keys revoke --", {"--ledger", "--help"}, "the options of keys revoke"),
        ("tollctl spend --model ", set(), "nothing for a free value (spend --model)"),
        ("tollctl cost --prices p", {"prices.yaml", "prices.d"}, "file names after --prices"),
        ("tollctl reconcile --provider-csv u", {"usage.csv"}, "file names after --provider-csv"),
        ("tollctl spend --ledger ", {"ledger.d", "prices.d"}, "only directories after --ledger"),
        ("tollctl cost u", {"usage.csv"}, "file names as the operand of cost"),
        ("tollctl -", {"--help", "--version", "-c", "--config"}, "tollctl's own options"),
        ("tollctl -c p", {"prices.yaml", "prices.d"}, "file names after -c"),
        ("tollctl --config=p", {"prices.yaml", "prices.d"}, "file names after --config="),
        ("tollctl -c prices.yaml s", {"spend", "stat", "status"}, "the commands after -c FILE"),
        ("tollctl --config prices.yaml spend --f", {"--format", "--fleet"}, "a command's options after --config FILE"),
        ("tollctl --config=prices.yaml keys re", {"revoke"}, "the keys subcommands after --config=FILE"),
        ("tollctl -c prices.yaml keys list --", {"--all", "--json", "--ledger", "--help"},
         "the options of keys list after -c FILE"),
        ("tollctl prices ", {"diff", "fetch", "show"}, "the prices subcommands"),
        ("tollctl prices diff --", {"--json", "--run-dir", "--help"}, "the options of prices diff"),
        ("tollctl prices diff p", {"prices.yaml", "prices.d"}, "file names as the operands of prices diff"),
        ("tollctl prices fetch --max-", {"--max-drop", "--max-factor"}, "the options of prices fetch that start so"),
        ("tollctl prices fetch --to ", {"ledger.d", "prices.d"}, "only directories after prices fetch --to"),
        ("tollctl prices fetch --in-use p", {"prices.yaml", "prices.d"}, "file names after prices fetch --in-use"),
        ("tollctl prices fetch --url ", set(), "nothing for a free value (prices fetch --url)"),
        ("tollctl prices fetch ", set(), "no operand for prices fetch"),
    ]
    got = complete([c[0] for c in cases], preamble)
    if got is None:
        return
    for (line, want, what), have in zip(cases, got):
        ok(have == want, "%s: %s" % (mode, what), "line: %r\ngot:  %s\nwant: %s" % (line, sorted(have), sorted(want)))


# commands whose first operand is a subcommand, and how many `tollctl C --help` lists
SUBCOMMANDS = {"keys": 5, "prices": 3}


def staleness():
    """Every command and option that tollctl's --help prints is offered."""
    top = tollctl_help()
    m = re.search(r"^commands:\n((?:  \S.*\n)+)", top, re.M)
    commands = re.findall(r"^  (\S+)", m.group(1), re.M) if m else []
    if not ok(len(commands) >= 10, "tollctl --help lists the commands", top):
        return
    subs = {}
    for c, count in SUBCOMMANDS.items():
        text = tollctl_help(c)
        subs[c] = re.findall(r"^\s*(?:usage:)?\s*tollctl %s (\w+)" % c, text, re.M)
        ok(len(subs[c]) == count, "tollctl %s --help lists its subcommands" % c, text)
    lines = ["tollctl "] + ["tollctl %s --" % c for c in commands]
    for c in SUBCOMMANDS:
        lines += ["tollctl %s " % c] + ["tollctl %s %s --" % (c, s) for s in subs[c]]
    got = complete(lines, "")
    if got is None:
        return
    offered = got[0]
    missing = [c for c in commands if c not in offered]
    ok(not missing, "every command of tollctl --help is offered", "missing: %s" % missing)
    ok(offered == set(commands), "and nothing else", "offered: %s" % sorted(offered))
    at = 1 + len(commands)
    of_subs = {}
    for c in SUBCOMMANDS:
        of_subs[c] = (got[at], set().union(*got[at + 1:at + 1 + len(subs[c])]))
        at += 1 + len(subs[c])
    for c, have in zip(commands, got[1:]):
        if c in of_subs:
            have = of_subs[c][1]
        want = help_options(tollctl_help(c))
        missing = sorted(want - have)
        ok(want and not missing, "every option of tollctl %s --help is offered" % c, "missing: %s" % missing)
    for c in SUBCOMMANDS:
        ok(of_subs[c][0] == set(subs[c]), "the %s subcommands are offered" % c,
           "offered: %s" % sorted(of_subs[c][0]))


def man_page():
    with open(PAGE) as f:
        page = f.read()
    with open(os.path.join(SRC, "lib", "config.c")) as f:
        config = f.read()
    m = re.search(r"tg_keys_table\[\] = \{(.*?)\n\};", config, re.S)
    keys = re.findall(r'\{ "([a-z_]+)",', m.group(1)) if m else []
    ok(len(keys) >= 20, "lib/config.c's tg_keys_table is found", "%d keys" % len(keys))
    missing = [k for k in keys if not re.search(r"(?<![\w.])%s(?![\w])" % re.escape(k), page)]
    ok(not missing, "tollgate.yaml(5) documents every key of tg_keys_table", "missing: %s" % missing)
    for other in ("cmd/tollgated/tollgated.8", "cmd/tollctl/tollctl.1"):
        with open(os.path.join(SRC, other)) as f:
            text = f.read()
        see_also = text[text.find(".SH SEE ALSO"):]
        ok(".BR tollgate.yaml (5)" in see_also, "%s refers to tollgate.yaml(5)" % other)
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-ww", "-z", PAGE], capture_output=True, text=True, timeout=60)
        ok(r.returncode == 0 and not r.stderr, "groff -man -ww renders tollgate.yaml(5) without warnings",
           r.stderr)
    else:
        skip("groff absent")
    if shutil.which("man"):
        env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80")
        r = subprocess.run(["man", "--warnings", "-l", PAGE], capture_output=True, text=True,
                           timeout=60, env=env)
        ok(r.returncode == 0 and not r.stderr and "budget_timezone" in r.stdout,
           "man --warnings renders tollgate.yaml(5) without warnings", r.stderr)
    else:
        skip("man absent")


tmp = tempfile.mkdtemp()
try:
    for name in ("prices.yaml", "usage.csv"):
        open(os.path.join(tmp, name), "w").close()
    os.mkdir(os.path.join(tmp, "ledger.d"))
    os.mkdir(os.path.join(tmp, "prices.d"))
    if not shutil.which("bash"):
        skip("bash absent")
    else:
        ok(subprocess.run(["bash", "-n", SCRIPT]).returncode == 0, "the completion script parses")
        completion_cases("bare bash", "unset -f _init_completion _filedir 2>/dev/null")
        staleness()
        found = [p for p in BASH_COMPLETION if os.path.exists(p)]
        if found:
            pre = "source %s" % shlex.quote(found[0])
            r = subprocess.run(["bash", "--norc", "--noprofile", "-c", pre + "; declare -F _init_completion"],
                               capture_output=True, text=True, timeout=60)
            if ok(r.returncode == 0, "bash-completion defines _init_completion", r.stderr):
                completion_cases("bash-completion", pre)
        else:
            skip("bash-completion absent: its helpers are not tried")
    man_page()
finally:
    shutil.rmtree(tmp)
done()
