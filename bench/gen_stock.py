#!/usr/bin/env python3
"""gen_stock.py [--partner] ROWS OUT: a stock snapshot in the ERP dialect of the samples.

';'-separated, windows-1252, CRLF, SKUs with stray blanks and lower case,
quantities with decimal comma and thousands dot, extra columns to drop.
Deterministic: the same ROWS gives the same bytes.

--partner: the file a real ERP export looks like (issue 16): every key
lower case and padded with blanks to a fixed width on both sides (so that
`trim | upper` has work on every row), a German name on every row with at
least one non-ASCII letter or sign (Ø × ü ä ö ß ° µ), most quantities with a
thousands dot and three decimals, a few negative, and two more columns the
mapping drops. About 52 bytes a row: 1,000,000 rows are about 52 MB.
"""
import sys

NAMES = ["Unterlegscheibe Ø 4,3", "Schraube M4 verzinkt", "Holzleim 250 g", "Türgriff Messing",
         "Dübel 6×30", "Mutter M4 Edelstahl", "Winkel 40×40", "Scharnier \"Premium\" 3/4"]
QTYS = ["0,000", "3,000", "12,000", "250,000", "1.234,500", "17,250", "99.999,999"]

PARTNER_NAMES = ["Scheibe Ø4,3", "Dübel 6×30", "Türband", "Flügelmutter", "Maß 90°",
                 "Gewindestange Ø8", "Öse 2×10", "Spanplatte ½", "Zuschnitt µ", "Fußleiste",
                 "Haken \"Über\"", "Schlüssel"]
PARTNER_QTYS = ["1.234,500", "12.000,000", "3,000", "0,000", "-2,000", "250,125", "99.999,999",
                "7.001,010", "45,500", "1.000.000,000", "0,001"]


def row_plain(i):
    name = NAMES[i % len(NAMES)]
    if '"' in name:
        name = '"' + name.replace('"', '""') + '"'
    sku = " ab-%07d " % i if i % 3 else "ab-%07d" % i
    return "%s;%s;%s;ST;LAGER-%02d\r\n" % (sku, name, QTYS[i % len(QTYS)], i % 7)


def row_partner(i):
    name = PARTNER_NAMES[i % len(PARTNER_NAMES)]
    if '"' in name:
        name = '"' + name.replace('"', '""') + '"'
    sku = " %-15s" % ("kw-%07d" % i)  # fixed width 16, blank-padded both sides
    qty = PARTNER_QTYS[(i * 7) % len(PARTNER_QTYS)]
    return "%s;%s;%s;ST;LAGER-%d;%d\r\n" % (sku, name, qty, i % 9, i % 97)


def main():
    args = sys.argv[1:]
    partner = args and args[0] == "--partner"
    if partner:
        args = args[1:]
    rows, out = int(args[0]), args[1]
    header = "ItemNo;Bezeichnung;QtyOnHand;Unit;Warehouse"
    if partner:
        header += ";Bin"
    make = row_partner if partner else row_plain
    with open(out, "wb", buffering=1 << 20) as f:
        f.write((header + "\r\n").encode("cp1252"))
        chunk = []
        for i in range(rows):
            chunk.append(make(i))
            if len(chunk) == 10000:
                f.write("".join(chunk).encode("cp1252"))
                chunk = []
        f.write("".join(chunk).encode("cp1252"))


if __name__ == "__main__":
    main()
