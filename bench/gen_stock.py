#!/usr/bin/env python3
"""gen_stock.py ROWS OUT: a stock snapshot in the ERP dialect of the samples.

';'-separated, windows-1252, CRLF, SKUs with stray blanks and lower case,
quantities with decimal comma and thousands dot, extra columns to drop.
Deterministic: the same ROWS gives the same bytes.
"""
import sys

NAMES = ["Unterlegscheibe Ø 4,3", "Schraube M4 verzinkt", "Holzleim 250 g", "Türgriff Messing",
         "Dübel 6×30", "Mutter M4 Edelstahl", "Winkel 40×40", "Scharnier \"Premium\" 3/4"]
QTYS = ["0,000", "3,000", "12,000", "250,000", "1.234,500", "17,250", "99.999,999"]


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "wb", buffering=1 << 20) as f:
        f.write("ItemNo;Bezeichnung;QtyOnHand;Unit;Warehouse\r\n".encode("cp1252"))
        chunk = []
        for i in range(rows):
            name = NAMES[i % len(NAMES)]
            if '"' in name:
                name = '"' + name.replace('"', '""') + '"'
            sku = " ab-%07d " % i if i % 3 else "ab-%07d" % i
            chunk.append("%s;%s;%s;ST;LAGER-%02d\r\n" % (sku, name, QTYS[i % len(QTYS)], i % 7))
            if len(chunk) == 10000:
                f.write("".join(chunk).encode("cp1252"))
                chunk = []
        f.write("".join(chunk).encode("cp1252"))


if __name__ == "__main__":
    main()
