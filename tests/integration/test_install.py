#!/usr/bin/env python3
"""dropgate installed as a Debian service: the man pages (lint clean, naming every command,
key, state and exit code), `make install`, the unit's systemd security score, the alert program
that mails, the example configuration, the Grafana dashboard and alerting rules against the
metrics the daemon serves, and the .deb: built with dpkg-buildpackage, unpacked into a scratch
root, its maintainer script run there (DPKG_ROOT), `dropgate version` run from it.

The .deb is built in the plain build's pass only (a sanitizer build's suite skips it: the
package is built from the source, not from that build). Usage: test_install.py BUILD SRC
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 2 else os.path.abspath(".")
SRC = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else os.path.abspath(".")
DROPGATE = os.path.join(BUILD, "src", "dropgate")
MAN8 = os.path.join(SRC, "man", "dropgate.8")
MAN5 = os.path.join(SRC, "man", "dropgate.conf.5")


def slurp(path):
    with open(path) as f:
        return f.read()


def sanitizer_build():
    return "#define DG_SANITIZERS 1" in slurp(os.path.join(BUILD, "config.h"))


def conf_keys():
    """Every key of src/lib/conf_keys.c's tables: (section letter, name)."""
    text = slurp(os.path.join(SRC, "src", "lib", "conf_keys.c"))
    return re.findall(r'\b([CTFE])KD?\(\s*"([^"]+)"', text)


def man_terms(path):
    """The words a man page sets in bold or italics as terms: .B/.BR/.BI/.TP lines' first word."""
    terms = set()
    for line in slurp(path).splitlines():
        m = re.match(r'^\.(B|BR|BI|IR|I)\s+(\S+)', line)
        if m:
            terms.add(m.group(2).strip('"').replace("\\-", "-"))
    return terms


class ManPageTest(unittest.TestCase):
    def test_man_pages_lint_clean(self):
        for page in (MAN8, MAN5):
            p = subprocess.run(["groff", "-ww", "-z", "-man", page], capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stderr), (0, ""), page)
            env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0")
            p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True, env=env)
            self.assertEqual((p.returncode, p.stderr), (0, ""), page)

    def test_dropgate_conf_5_names_every_key(self):
        terms = man_terms(MAN5)
        text = slurp(MAN5)
        missing = [k for _, k in conf_keys() if k not in terms]
        self.assertEqual(missing, [], "keys of conf_keys.c missing from dropgate.conf(5)")
        for section in ("[dropgate]", "[commerce] and [commerce NAME]", "[feed NAME]", "[export NAME]"):
            self.assertIn(".SH " + section, text)
        for pattern in ("map.", "namespace."):
            self.assertIn(".BI " + pattern, text)

    def test_dropgate_8_names_every_command_state_exit_status_and_file(self):
        text = slurp(MAN8)
        helped = subprocess.run([DROPGATE, "help"], capture_output=True, text=True).stdout
        commands = re.findall(r"^  (\w+(?: add)?)\b", helped, re.M)
        self.assertIn("run", commands)
        for c in commands:
            self.assertRegex(text, r"\n\.TP\n\.B %s\b" % re.escape(c), "command %s" % c)
        states = re.findall(r'#define ST_\w+ "(\w+)"', slurp(os.path.join(SRC, "src", "queue", "states.h")))
        self.assertGreater(len(states), 8)
        for s in states:
            self.assertRegex(text, r"\n\.B %s\n" % s, "state %s" % s)
        for code in range(5):
            self.assertIn("\n.TP\n.B %d\n" % code, text)
        for f in ("/etc/dropgate/dropgate.conf", "/var/lib/dropgate/ledger.db", "/usr/lib/dropgate/notify\\-mail",
                  "/lib/systemd/system/dropgate.service"):
            self.assertIn(".I " + f, text)
        for opt in ("\\-\\-json", "\\-\\-watch", "\\-\\-force", "\\-\\-quiet", "\\-\\-date", "\\-\\-user", "\\-\\-out"):
            self.assertIn(opt, text)

    def test_every_metric_is_documented_and_the_dashboard_and_rules_use_only_served_ones(self):
        served = set()
        for path in glob.glob(os.path.join(SRC, "src", "ops", "*.c")):
            served |= set(re.findall(r'prom_family\(\s*\w+,\s*"(dropgate_\w+)"', slurp(path)))
        self.assertGreater(len(served), 15)
        man = slurp(MAN8)
        readme = slurp(os.path.join(SRC, "README.md"))
        for name in served:
            self.assertTrue(name in man, "metric %s not in dropgate(8)" % name)
            self.assertTrue(name in readme, "metric %s not in the README" % name)
        for data in ("grafana-dashboard.json", "alerts.yml"):
            used = set(re.findall(r"\b(dropgate_[a-z_]+)", slurp(os.path.join(SRC, "data", data))))
            used = {re.sub(r"_(bucket|sum|count)$", "", u) if u not in served else u for u in used}
            self.assertTrue(used, data)
            self.assertEqual(used - served, set(), "%s names metrics the daemon does not serve" % data)


class InstallTest(unittest.TestCase):
    def test_make_install_puts_everything_in_place(self):
        with tempfile.TemporaryDirectory() as d:
            # prefix given: the build may be configured for another (make distcheck's)
            p = subprocess.run(["make", "-C", BUILD, "install", "prefix=/usr/local", "DESTDIR=" + d],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            prefix = d + "/usr/local"
            for f in ("bin/dropgate", "share/man/man8/dropgate.8", "share/man/man5/dropgate.conf.5",
                      "lib/systemd/system/dropgate.service", "lib/dropgate/notify-mail",
                      "share/dropgate/dropgate.conf.example", "share/dropgate/sshd-dropgate.conf",
                      "share/dropgate/grafana-dashboard.json", "share/dropgate/alerts.yml"):
                self.assertTrue(os.path.isfile(os.path.join(prefix, f)), f)
            self.assertTrue(os.access(os.path.join(prefix, "lib/dropgate/notify-mail"), os.X_OK))
            unit = slurp(os.path.join(prefix, "lib/systemd/system/dropgate.service"))
            self.assertIn("ExecStart=/usr/local/bin/dropgate -c /etc/dropgate/dropgate.conf run", unit)

    def test_the_unit_notifies_and_scores_2_or_better(self):
        unit = slurp(os.path.join(SRC, "data", "dropgate.service"))
        for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "ExecReload=",
                     "ConditionPathExists=/etc/dropgate/dropgate.conf"):
            self.assertIn("\n" + line, unit)
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dropgate.service")
            with open(path, "w") as f:
                f.write(unit)
            p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", path],
                               capture_output=True, text=True)
            m = re.search(r"Overall exposure level for dropgate.service: ([0-9.]+) (\w+)", p.stdout + p.stderr)
            self.assertTrue(m, p.stdout + p.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0, p.stdout)
            self.assertEqual(m.group(2), "OK")

    def test_notify_mail_sends_one_mail_with_the_facts(self):
        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "sendmail")
            with open(fake, "w") as f:
                f.write('#!/bin/sh\necho "$@" >%s/args\ncat >%s/mail\n' % (d, d))
            os.chmod(fake, 0o755)
            env = dict(os.environ, DROPGATE_SENDMAIL=fake, DROPGATE_MAIL_TO="ops@example.com",
                       DROPGATE_EVENT="late", DROPGATE_PARTNER="acme", DROPGATE_FEED="stock\nBcc: x@y",
                       DROPGATE_FILE="", DROPGATE_SINCE="2026-12-06T03:00:00Z",
                       DROPGATE_MESSAGE="feed stock of partner acme is late since 03:00")
            p = subprocess.run([os.path.join(SRC, "data", "notify-mail")], env=env, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            mail = slurp(os.path.join(d, "mail"))
            self.assertEqual(slurp(os.path.join(d, "args")).split(), ["-oi", "-t"])
            self.assertIn("To: ops@example.com\n", mail)
            self.assertRegex(mail, r"Subject: \[dropgate [^\]]+\] late acme/stock Bcc: x@y\n")
            self.assertNotIn("\nBcc:", mail)  # a partner's name cannot add a header
            self.assertIn("is late since 03:00", mail)
            self.assertIn("since:    2026-12-06T03:00:00Z", mail)

    def test_the_example_configuration_loads(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([DROPGATE, "-c", os.path.join(SRC, "data", "dropgate.conf.example"), "check",
                                "--feed", "stock", "--out", d,
                                os.path.join(SRC, "tests", "samples", "erp", "stock_delta_20261127T1430.csv.gz")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)


@unittest.skipUnless(shutil.which("dpkg-buildpackage"), "no dpkg-buildpackage (scripts/install-deps)")
class DebianPackageTest(unittest.TestCase):
    def test_the_deb_builds_installs_into_a_scratch_root_and_runs(self):
        if sanitizer_build():
            self.skipTest("built in the plain build's pass")
        if os.geteuid() != 0:
            self.skipTest("needs root: a scratch root with owners")
        work = tempfile.mkdtemp(prefix="dropgate-deb-")
        try:
            self.build_and_install(work)
        finally:
            if os.environ.get("DROPGATE_KEEP"):
                print("kept " + work, file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)

    def build_and_install(self, work):
        src = os.path.join(work, "dropgate-0.1.0")
        p = subprocess.run(["make", "-C", BUILD, "distdir", "distdir=" + src], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % min(2, os.cpu_count() or 1))
        p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, capture_output=True, text=True,
                           env=env)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr)[-3000:])
        debs = glob.glob(os.path.join(work, "dropgate_*_*.deb"))
        self.assertEqual(len(debs), 1, os.listdir(work))
        deb = debs[0]
        if shutil.which("lintian"):
            p = subprocess.run(["lintian", "--no-tag-display-limit", deb], capture_output=True, text=True)
            errors = [l for l in p.stdout.splitlines() if l.startswith("E:")]
            self.assertEqual(errors, [], p.stdout)
        # a scratch root: the package's files, a minimal /etc, then its postinst with DPKG_ROOT
        root = os.path.join(work, "root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        ctl = os.path.join(work, "control")
        subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True)
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        for name, text in (("passwd", "root:x:0:0:root:/root:/bin/sh\n"), ("group", "root:x:0:\n"),
                           ("shadow", "root:*::0:99999:7:::\n"), ("gshadow", "root:*::\n")):
            with open(os.path.join(root, "etc", name), "w") as f:
                f.write(text)
        stubs = os.path.join(work, "stubs")  # the init system's helpers: record, enable nothing
        os.makedirs(stubs)
        for tool in ("deb-systemd-helper", "deb-systemd-invoke", "systemctl"):
            with open(os.path.join(stubs, tool), "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >>%s/calls\nexit 1\n' % (tool, work))
            os.chmod(os.path.join(stubs, tool), 0o755)
        env = dict(os.environ, DPKG_ROOT=root, PATH=stubs + ":" + os.environ["PATH"])
        p = subprocess.run(["sh", os.path.join(ctl, "postinst"), "configure"], env=env, capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        calls = slurp(os.path.join(work, "calls")) if os.path.exists(os.path.join(work, "calls")) else ""
        self.assertNotRegex(calls, r"(helper enable|invoke start|systemctl (enable|start))",
                            "the package enabled or started something: " + calls)
        postinst = slurp(os.path.join(ctl, "postinst"))
        self.assertNotIn("deb-systemd-invoke", postinst)
        user = [l for l in slurp(os.path.join(root, "etc", "passwd")).splitlines() if l.startswith("dropgate:")]
        self.assertEqual(len(user), 1, "postinst made no dropgate user")
        self.assertTrue(user[0].endswith(":/usr/sbin/nologin"), user[0])
        uid = int(user[0].split(":")[2])
        for d, mode in (("var/lib/dropgate", 0o750), ("etc/dropgate", 0o750)):
            st = os.stat(os.path.join(root, d))
            self.assertEqual(st.st_mode & 0o7777, mode, d)
        self.assertEqual(os.stat(os.path.join(root, "var/lib/dropgate")).st_uid, uid)
        for f in ("lib/systemd/system/dropgate.service", "usr/lib/dropgate/notify-mail",
                  "usr/share/man/man8/dropgate.8.gz", "usr/share/man/man5/dropgate.conf.5.gz",
                  "usr/share/dropgate/dropgate.conf.example"):
            self.assertTrue(os.path.exists(os.path.join(root, f)), f)
        self.assertFalse(os.path.exists(os.path.join(root, "etc/dropgate/dropgate.conf")),
                         "a configuration would start the service")
        self.assertIn("ExecStart=/usr/bin/dropgate ", slurp(os.path.join(root, "lib/systemd/system/dropgate.service")))
        p = subprocess.run([os.path.join(root, "usr/bin/dropgate"), "version"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^dropgate 0\.1\.0\n")
        self.assertIn("libmicrohttpd ", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
