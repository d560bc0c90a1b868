"""A PostgreSQL server of the test's own: initdb into a temporary directory, listening on a
Unix socket only (listen_addresses = ''), run as the daemon's user (initdb and postgres refuse
root; the daemon reaches the socket as its owner), trust authentication on that socket alone.

As a module: Server().start(), .createdb(name) -> a libpq conninfo, .query(conninfo, sql),
.stop(). As a program (tests/run-suite):
    python3 pgserver.py start DIR   prints the conninfo of the server's "postgres" database
    python3 pgserver.py stop DIR
    python3 pgserver.py createdb CONNINFO NAME   prints the conninfo of a new database
When the PostgreSQL binaries are missing, find_bin() is None and start() raises Unavailable."""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

USER = "dropgate"  # the daemon's user (tests/integration/test_daemon.py DAEMON_USER)


class Unavailable(Exception):
    pass


def find_bin():
    """The directory holding initdb and pg_ctl: PATH, else Debian's /usr/lib/postgresql/*/bin."""
    p = shutil.which("initdb")
    if p and shutil.which("pg_ctl"):
        return os.path.dirname(p)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    return None


def user_ids():
    """The daemon's user, made as the suite makes it (a system user, never removed)."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "-U", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
                        USER], capture_output=True)
        pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid


def psql_path(bindir):
    return os.path.join(bindir, "psql") if os.path.exists(os.path.join(bindir, "psql")) else "psql"


class Server:
    def __init__(self, root=None):
        self.bindir = find_bin()
        self.root = root
        self.made_root = False

    def _as_user(self):
        if os.geteuid() != 0:
            return {}
        uid, gid = user_ids()
        return {"user": uid, "group": gid, "extra_groups": []}

    def start(self):
        if self.bindir is None:
            raise Unavailable("PostgreSQL's initdb and pg_ctl are not installed "
                              "(scripts/install-deps installs postgresql)")
        if self.root is None:
            self.root = tempfile.mkdtemp(prefix="dropgate-pg-")
            self.made_root = True
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)  # the daemon's user reaches the socket below it
        if os.geteuid() == 0:
            uid, gid = user_ids()
            os.chown(self.root, uid, gid)
        data = os.path.join(self.root, "data")
        env = dict(os.environ, LC_ALL="C")
        subprocess.run([os.path.join(self.bindir, "initdb"), "-D", data, "-U", USER, "--auth=trust",
                        "--no-sync", "-E", "UTF8", "--locale=C"], check=True, capture_output=True,
                       env=env, cwd=self.root, **self._as_user())
        opts = "-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off " \
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" % self.root
        p = subprocess.run([os.path.join(self.bindir, "pg_ctl"), "-D", data, "-l",
                            os.path.join(self.root, "server.log"), "-o", opts, "-w", "-t", "60", "start"],
                           capture_output=True, text=True, env=env, cwd=self.root, **self._as_user())
        if p.returncode != 0:
            raise RuntimeError("pg_ctl start: %s%s" % (p.stdout, p.stderr))
        self.opts = opts
        return self

    def restart(self, down=2.0):
        """The server stopped (fast: every connection cut), down seconds away, started again."""
        data = os.path.join(self.root, "data")
        env = dict(os.environ, LC_ALL="C")
        subprocess.run([os.path.join(self.bindir, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True, env=env, cwd=self.root, **self._as_user())
        time.sleep(down)
        subprocess.run([os.path.join(self.bindir, "pg_ctl"), "-D", data, "-l",
                        os.path.join(self.root, "server.log"), "-o", self.opts, "-w", "-t", "60", "start"],
                       check=True, capture_output=True, env=env, cwd=self.root, **self._as_user())

    def conninfo(self, dbname="postgres"):
        return "host=%s user=%s dbname=%s" % (self.root, USER, dbname)

    def createdb(self, name):
        query(self.conninfo(), 'CREATE DATABASE "%s"' % name, self.bindir)
        return self.conninfo(name)

    def stop(self):
        if self.root is None or self.bindir is None or not os.path.isdir(os.path.join(self.root, "data")):
            return
        subprocess.run([os.path.join(self.bindir, "pg_ctl"), "-D", os.path.join(self.root, "data"), "-m",
                        "immediate", "-w", "stop"], capture_output=True, cwd=self.root, **self._as_user())
        if self.made_root and not os.environ.get("DROPGATE_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


def query(conninfo, sql, bindir=None):
    """Rows of sql, each a tuple of text (None for NULL), through psql."""
    p = subprocess.run([psql_path(bindir or find_bin() or ""), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-F", "\x1f", "-R", "\x1e", "-P", "null=\x1d", "-d", conninfo, "-f", "-"],
                       input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("psql: %s" % p.stderr.strip())
    out = p.stdout.rstrip("\n")
    if out == "":
        return []
    return [tuple(None if v == "\x1d" else v for v in r.split("\x1f")) for r in out.split("\x1e") if r != ""]


def main(argv):
    if argv[1] == "start":
        try:
            s = Server(argv[2]).start()
        except Unavailable as e:
            print(e)
            return 77
        print(s.conninfo())
    elif argv[1] == "stop":
        Server(argv[2]).stop()
    elif argv[1] == "createdb":
        query(argv[2], 'CREATE DATABASE "%s"' % argv[3])
        print(argv[2].replace("dbname=postgres", "dbname=" + argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
