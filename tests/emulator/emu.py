#!/usr/bin/env python3
"""Helpers for case scripts that talk to the Commerce emulator.

As a command:  emu.py faults '[{"match": "/V1/import/csv", "status": 503, "times": 3}]'
               emu.py revoke TOKEN | expire | products '[...]' | orders '[...]' | config '{...}'
               emu.py generate '{"orders": 300}' | consumer '{"running": false}' (ORDERS.md)
As a module:   from emu import journal, store, imports, fail, out, calls, orders, documents
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


def calls(op):
    """The journal's requests of one kind (ORDERS.md): "orders.search", "bulk",
    "bulk.status", "ship", ..."""
    return [j for j in journal() if j.get("op") == op]


def orders():
    """Every order as Commerce holds it now, items with their qty_shipped/invoiced/refunded."""
    return call("orders")


def documents():
    """{"shipments": [...], "invoices": [...], "creditmemos": [...], "stock_returns": {...}}"""
    return call("documents")


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


def expect_refusals(report, errors, state, good, within=None):
    """A file whose rows Commerce refused: the report's errors.csv holds exactly these
    rows (line,column,value,message, any order), the report says state, Commerce holds
    exactly the SKUs in good, and the import requests stay within the bound of
    2*k*log2(n)+1 per batch of n rows with k refused ones (within: [(n, k), ...])."""
    import math
    lines = out(report + ".errors.csv").splitlines()
    expect(lines[0] == "line,column,value,message", "errors.csv header %r" % lines[:1])
    expect(sorted(lines[1:]) == sorted(errors), "errors.csv %s, want %s" % (lines[1:], errors))
    r = result(report + ".result.json")
    expect(r["state"] == state, "state %s, want %s: %s" % (r["state"], state, r["messages"]))
    held = sorted(row["sku"] for row in store().get("stock_sources", []))
    expect(held == sorted(good), "Commerce holds %d rows %s..., want %d" % (len(held), held[:5], len(good)))
    if within is not None:
        bound = sum(2 * k * math.log2(n) + 1 if k else 1 for n, k in within)
        sent = len(imports())
        expect(sent <= bound, "%d requests, more than %.1f" % (sent, bound))
        print("requests %d, bound %.1f" % (sent, bound), file=sys.stderr)
    return r


if __name__ == "__main__":
    what = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else None
    if what == "revoke":
        print(call("revoke", {"token": arg}))
    elif what == "expire":
        print(call("expire", {}))
    else:
        print(call(what, json.loads(arg) if arg else {}))
