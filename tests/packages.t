#!/usr/bin/python3
"""The Debian and RPM packages: `make deb rpm` builds both (in a scratch
output directory, PKG_O), then their contents, conffiles, dependencies and
maintainer scripts are checked, lintian must report no error, and the
tollgated of the extracted .deb must accept the installed configuration.
Nothing is installed on this machine: the .deb is only extracted.  Skips
when the packaging tools are missing and cannot be installed (not root)."""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("TOLLGATE_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from tg import ok, diag, done  # noqa: E402  (TAP output shared with the integration tests)
TOOLS = ["dpkg-deb", "dpkg-shlibdeps", "dpkg-gencontrol", "lintian", "rpmbuild", "rpm"]

# what both packages hold besides the Debian documentation
FILES = {
    "etc/logrotate.d/tollgate",
    "etc/tollgate/prices.yaml",
    "etc/tollgate/tollgate.yaml",
    "usr/bin/tollctl",
    "usr/lib/systemd/system/tollgate.service",
    "usr/lib/systemd/system/tollgate-prices.service",
    "usr/lib/systemd/system/tollgate-prices.timer",
    "usr/lib/tmpfiles.d/tollgate.conf",
    "usr/sbin/tollgated",
    "usr/share/bash-completion/completions/tollctl",
    "usr/share/man/man1/tollctl.1.gz",
    "usr/share/man/man5/tollgate.yaml.5.gz",
    "usr/share/man/man8/tollgated.8.gz",
    "usr/share/tollgate/ui/index.html",
    "usr/share/tollgate/ui/app.js",
    "usr/share/tollgate/ui/style.css",
}
DEB_ONLY = {
    "usr/share/doc/tollgate/changelog.Debian.gz",
    "usr/share/doc/tollgate/copyright",
    "usr/share/lintian/overrides/tollgate",
}
RPM_DIRS = {"etc/tollgate", "var/lib/tollgate", "var/log/tollgate", "run/tollgate", "usr/share/tollgate",
            "usr/share/tollgate/ui"}
CONFFILES = ["/etc/tollgate/tollgate.yaml", "/etc/tollgate/prices.yaml", "/etc/logrotate.d/tollgate"]
# the Debian packages and the sonames the binaries link against
DEB_DEPENDS = ["libevent-2.1", "libcurl4", "liblmdb0", "libyaml-0", "libjansson4", "libmsgpackc", "libssl3",
               "libc6", "adduser"]
RPM_REQUIRES = ["libevent-2.1.so", "libcurl.so.4", "liblmdb.so.0", "libyaml-0.so.2", "libjansson.so.4",
                "libmsgpackc.so.2", "libcrypto.so.3", "libc.so.6"]

def run(*argv, env=None, cwd=None):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    return p.returncode, p.stdout


def skip_all(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


def case_branch(script, label):
    """The text of one `label)` branch of the case statement in script."""
    m = re.search(r"^\s*%s\)\s*$(.*?)^\s*;;" % re.escape(label), script, re.S | re.M)
    return m.group(1) if m else ""


def main():
    if shutil.which("dpkg") is None:
        skip_all("not a Debian system (no dpkg)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        skip_all("packaging tools missing (%s) and cannot be installed here (not root)" % " ".join(missing))

    out = tempfile.mkdtemp(prefix="tollgate-pkg-")
    try:
        check(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    done()


def check(out):
    # a make of its own: not the jobserver or the variables of the make that runs the tests
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    t0 = time.monotonic()
    rc, log = run("make", "-C", SRC, "--no-print-directory", "deb", "rpm", "PKG_O=" + out, env=env)
    diag("make deb rpm: %.1f s" % (time.monotonic() - t0))
    if not ok(rc == 0, "make deb rpm builds both packages", log):
        return
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    rpms = [f for f in os.listdir(out) if f.endswith(".rpm")]
    if not ok(len(debs) == 1 and len(rpms) == 1, "one .deb and one .rpm", os.listdir(out)):
        return
    deb, rpm = os.path.join(out, debs[0]), os.path.join(out, rpms[0])
    check_deb(deb, out)
    check_rpm(rpm)


def check_deb(deb, out):
    rc, listing = run("dpkg-deb", "-c", deb)
    entries = [l.split()[-1] for l in listing.splitlines() if not l.startswith("d")]
    got = {e[2:] if e.startswith("./") else e for e in entries}
    ok(got == FILES | DEB_ONLY, "the .deb holds the binaries, configuration, units, tmpfiles, logrotate, "
       "man pages, completion and its documentation", "missing: %s\nextra: %s" %
       (sorted(FILES | DEB_ONLY - got), sorted(got - FILES - DEB_ONLY)))
    conf = [l for l in listing.splitlines() if l.endswith("./etc/tollgate/tollgate.yaml")]
    ok(conf and conf[0].startswith("-rw-r----- root/root"), "tollgate.yaml is not world-readable", conf)

    rc, depends = run("dpkg-deb", "-f", deb, "Depends")
    names = [d.strip().split()[0] for d in depends.split(",") if d.strip()]
    for want in DEB_DEPENDS:
        ok(any(n.startswith(want) for n in names), "Depends names %s" % want, depends)
    ok("${" not in depends, "no substitution variable is left in Depends", depends)

    rc, conffiles = run("dpkg-deb", "-I", deb, "conffiles")
    ok(conffiles.split() == CONFFILES, "conffiles: tollgate.yaml, prices.yaml, logrotate", conffiles)

    rc, postinst = run("dpkg-deb", "-I", deb, "postinst")
    configure = case_branch(postinst, "configure")
    ok("make_user" in configure and re.search(r"adduser --system .*--home /var/lib/tollgate", postinst),
       "postinst configure makes the system user tollgate", postinst)
    ok("own 0750 tollgate:tollgate /var/lib/tollgate" in configure, "and /var/lib/tollgate, 0750", configure)
    rc, postrm = run("dpkg-deb", "-I", deb, "postrm")
    remove, purge = case_branch(postrm, "remove"), case_branch(postrm, "purge")
    ok("/var/lib/tollgate" in remove and "rm " not in remove, "postrm remove keeps the ledger and says so", remove)
    ok(re.search(r"rm -rf /var/lib/tollgate\b", purge) is not None and "ledger" in purge,
       "postrm purge deletes the ledger and says so", purge)
    rc, prerm = run("dpkg-deb", "-I", deb, "prerm")
    ok("stop tollgate.service" in case_branch(prerm, "remove|deconfigure"), "prerm stops the service on remove", prerm)

    rc, lint = run("lintian", "--fail-on", "error", deb)
    errors = [l for l in lint.splitlines() if l.startswith("E:")]
    ok(rc == 0 and not errors, "lintian reports no error", lint)
    for l in lint.splitlines():
        if l.startswith("W:"):
            diag("lintian: " + l)

    root = os.path.join(out, "root")
    rc, log = run("dpkg-deb", "-x", deb, root)
    if not ok(rc == 0, "the .deb extracts", log):
        return
    tollgated = os.path.join(root, "usr/sbin/tollgated")
    config = os.path.join(root, "etc/tollgate/tollgate.yaml")
    env = dict(os.environ, TOLLGATE_MASTER_KEY="sk-packages-t")
    rc, log = run(tollgated, "-t", "-c", config, env=env)
    ok(rc == 0 and "is valid" in log, "the installed tollgated -t accepts the installed configuration", log)
    with open(tollgated, "rb") as f:
        binary = f.read()
    ok(b"/etc/tollgate/tollgate.yaml" in binary and b"/usr/local" not in binary,
       "built for /usr and /etc (the default config is /etc/tollgate/tollgate.yaml)")
    with open(os.path.join(root, "usr/share/man/man8/tollgated.8.gz"), "rb") as f:
        ok(gzip.decompress(f.read()).startswith(b".TH TOLLGATED 8"), "man pages are gzipped")

    unit = os.path.join(root, "usr/lib/systemd/system/tollgate.service")
    with open(unit) as f:
        text = f.read()
    for want in ("Type=notify", "ExecStartPre=/usr/sbin/tollgated -t -c /etc/tollgate/tollgate.yaml",
                 "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes"):
        ok(want in text.splitlines(), "unit: %s" % want, text)
    ok(not re.search(r"^User=", text, re.M), "unit: no User= (tollgated drops root itself)", text)
    with open(os.path.join(root, "usr/lib/systemd/system/tollgate-prices.service")) as f:
        prices = f.read()
    with open(os.path.join(root, "usr/lib/systemd/system/tollgate-prices.timer")) as f:
        timer = f.read()
    for want in ("Type=oneshot", "User=tollgate", "SuccessExitStatus=3",
                 "ExecStart=/usr/bin/tollctl prices fetch --to /var/lib/tollgate/prices"):
        ok(want in prices.splitlines(), "tollgate-prices.service: %s" % want, prices)
    ok(re.search(r"^ExecStopPost=\+.*EXIT_STATUS.* = 0 .*try-reload-or-restart tollgate\.service", prices, re.M),
       "tollgate-prices.service: the gateway is reloaded as root, after an installation only", prices)
    ok("[Install]" not in prices, "tollgate-prices.service: started by its timer alone", prices)
    for want in ("OnCalendar=daily", "Persistent=true", "WantedBy=timers.target"):
        ok(want in timer.splitlines(), "tollgate-prices.timer: %s" % want, timer)
    ok(re.search(r"^RandomizedDelaySec=\S+", timer, re.M), "tollgate-prices.timer: RandomizedDelaySec=", timer)
    lines = configure.splitlines()
    enables = [i for i, l in enumerate(lines) if re.search(r"(?<!was-)enable tollgate-prices\.timer", l)]
    ok("update-state tollgate-prices.timer" in configure and
       all(any("was-enabled tollgate-prices.timer" in l for l in lines[max(0, i - 3):i]) for i in enables),
       "postinst does not enable the timer, only keeps an administrator's enable", configure)
    if shutil.which("systemd-analyze"):
        # with the paths of the extracted tree, so that the binaries and man pages are found
        tollctl = os.path.join(root, "usr/bin/tollctl")
        units = []
        for name, body in (("tollgate.service", text.replace("/usr/sbin/tollgated", tollgated)),
                           ("tollgate-prices.service", prices.replace("/usr/bin/tollctl", tollctl)),
                           ("tollgate-prices.timer", timer)):
            units.append(os.path.join(out, name))
            with open(units[-1], "w") as f:
                f.write(body)
        rc, log = run("systemd-analyze", "verify", *units,
                      env=dict(os.environ, MANPATH=os.path.join(root, "usr/share/man")))
        ok(rc == 0 and log.strip() == "", "systemd-analyze verify finds nothing to say about the units", log)


def check_rpm(rpm):
    rc, listing = run("rpm", "-qpl", rpm)
    got = {l.lstrip("/") for l in listing.splitlines()}
    ok(rc == 0 and got == FILES | RPM_DIRS, "rpm -qpl: the same files, and the directories it owns",
       "missing: %s\nextra: %s" % (sorted(FILES | RPM_DIRS - got), sorted(got - FILES - RPM_DIRS)))
    rc, verbose = run("rpm", "-qplv", rpm)
    ok(re.search(r"^drwxr-x---\s+\d+\s+tollgate\s+tollgate\s.*\s/var/lib/tollgate$", verbose, re.M) is not None,
       "/var/lib/tollgate is tollgate's, mode 0750", verbose)
    rc, configs = run("rpm", "-qpc", rpm)
    ok(sorted(configs.split()) == sorted(CONFFILES), "rpm -qpc: the configuration files", configs)
    rc, requires = run("rpm", "-qpR", rpm)
    for want in RPM_REQUIRES:
        ok(any(l.startswith(want) for l in requires.splitlines()), "rpm -qpR: %s" % want, requires)
    rc, scripts = run("rpm", "-qp", "--scripts", rpm)
    pre = scripts.split("postinstall scriptlet")[0]
    ok("preinstall scriptlet" in pre and "useradd -r -g tollgate -d /var/lib/tollgate" in pre.replace("\\\n", ""),
       "rpm %pre makes the system user tollgate", scripts)
    ok("ledger in /var/lib/tollgate is kept" in scripts, "rpm %postun says the ledger is kept", scripts)
    post = scripts.split("postinstall scriptlet")[1].split("preuninstall scriptlet")[0] \
        if "postinstall scriptlet" in scripts else ""
    commands = "\n".join(l for l in post.splitlines() if not l.lstrip().startswith("#"))
    ok(commands and not re.search(r"(enable|preset)[^\n]*tollgate-prices", commands),
       "rpm %post neither enables nor presets the price map's timer", post)


main()
