#!/usr/bin/env python3
"""baseline.py IN OUTDIR: what `dropgate check --feed stock` does, in Python.

The yardstick for `make bench`: the same mapping (source_code "default", sku
trimmed and upper-cased, quantity as number(",", "."), status from instock),
the same validation (sku present and at most 64 characters, numbers,
duplicate keys) and the same batches (5000 rows and 4 MiB at most, each with
the header) written to the same file names, with Python's csv module.
"""
import csv
import io
import os
import re
import sys

NUMBER = re.compile(r"^([+-]?)(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?$")
HEADER = "source_code,sku,quantity,status\n"


def number(text):
    m = NUMBER.match(text.strip())
    if not m:
        return None
    sign, whole, frac = m.group(1), m.group(2).replace(".", ""), (m.group(3) or "").rstrip("0")
    whole = whole.lstrip("0") or "0"
    if whole == "0" and not frac:
        sign = ""
    return ("-" if sign == "-" else "") + whole + ("." + frac if frac else "")


def quote(v):
    if any(c in v for c in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    name = os.path.basename(src)
    seen = {}
    batch, size, seq = [], len(HEADER), 0
    rows = ok = rejected = 0

    def flush():
        nonlocal batch, size, seq
        if batch:
            seq += 1
            with open(os.path.join(outdir, "%s.batch-%04d.csv" % (name, seq)), "w", newline="") as f:
                f.write(HEADER)
                f.writelines(batch)
            batch, size = [], len(HEADER)

    with open(src, "r", encoding="cp1252", newline="") as f:
        reader = csv.reader(f, delimiter=";", quotechar='"', strict=True)
        header = next(reader)
        i_sku, i_qty = header.index("ItemNo"), header.index("QtyOnHand")
        for fields in reader:
            rows += 1
            line = reader.line_num
            if len(fields) != len(header):
                rejected += 1
                continue
            sku = fields[i_sku].strip().upper()
            qty = number(fields[i_qty])
            if not sku or len(sku) > 64 or qty is None:
                rejected += 1
                continue
            key = "default\x1f" + sku
            if key in seen:
                rejected += 1
                continue
            seen[key] = line
            status = "1" if not qty.startswith("-") and qty.strip("0.") else "0"
            row = "default,%s,%s,%s\n" % (quote(sku), qty, status)
            if len(batch) == 5000 or size + len(row) > 4 * 1024 * 1024:
                flush()
            batch.append(row)
            size += len(row)
            ok += 1
    flush()
    print("rows=%d ok=%d rejected=%d batches=%d" % (rows, ok, rejected, seq), file=sys.stderr)


if __name__ == "__main__":
    main()
