#!/usr/bin/env python3
"""gen_products.py MEGABYTES OUT: a PIM catalog export shaped like the sample.

/Products/Product records with attributes, localised names, a CDATA HTML
description, several categories and prices per currency; deterministic.
"""
import sys


def main():
    target = int(sys.argv[1]) * 1024 * 1024
    out = sys.argv[2]
    written = 0
    i = 0
    with open(out, "w", encoding="utf-8", buffering=1 << 20) as f:
        head = '<?xml version="1.0" encoding="UTF-8"?>\n<Products exported="2026-11-27T01:00:00Z">\n'
        f.write(head)
        written += len(head)
        chunk = []
        while written < target:
            i += 1
            rec = ('  <Product sku="AB-%08d" type="simple" set="Default">\n'
                   '    <Name lang="de">Dübel Ø %d × 30</Name>\n'
                   '    <Name lang="en">Item %d &amp; co</Name>\n'
                   '    <Description lang="en"><![CDATA[<p>Robust <b>hardware</b> part %d.</p>]]></Description>\n'
                   '    <Categories><Category>Default Category/Hardware</Category>'
                   '<Category>Default Category/Sale</Category></Categories>\n'
                   '    <Prices><Price currency="EUR">%d.%02d</Price><Price currency="USD">%d.%02d</Price></Prices>\n'
                   '    <Weight unit="kg">%d.%03d</Weight>\n'
                   '    <Websites>base</Websites>\n'
                   '  </Product>\n') % (i, i % 97, i, i, i % 500, i % 100, i % 400, i % 97, i % 9, i % 1000)
            chunk.append(rec)
            written += len(rec.encode())
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
        f.write("</Products>\n")
    print(i)


if __name__ == "__main__":
    main()
