#!/usr/bin/env python3
"""Helpers for case scripts that talk to the Commerce emulator.

As a command:  emu.py faults '[{"match": "/V1/import/csv", "status": 503, "times": 3}]'
               emu.py revoke TOKEN | expire | products '[...]' | orders '[...]' | config '{...}'
As a module:   from emu import journal, store, imports, fail, out
"""
import json
import os
import sys
import urllib.request

EMU = os.environ.get("EMU", "")
OUT = os.environ.get("OUT", "")


def _ctx():
    import ssl
    return ssl._create_unverified_context()  # the control API of a test emulator


def call(what, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(EMU + "/__emulator/" + what, data=data,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, context=_ctx() if EMU.startswith("https") else None) as r:
        return json.load(r)


def journal():
    return call("journal")


def store():
    return call("store")


def imports():
    """The import requests in the journal, in order."""
    return [j for j in journal() if "/V1/import/" in j["path"]]


def out(name):
    with open(os.path.join(OUT, name), encoding="utf-8-sig") as f:
        return f.read()


def result(name):
    return json.loads(out(name))


def fail(msg):
    print(msg)
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


if __name__ == "__main__":
    what = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else None
    if what == "revoke":
        print(call("revoke", {"token": arg}))
    elif what == "expire":
        print(call("expire", {}))
    else:
        print(call(what, json.loads(arg) if arg else {}))
