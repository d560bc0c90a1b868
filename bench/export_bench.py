#!/usr/bin/env python3
"""export_bench.py DROPGATE SRC WORKDIR: 100,000 orders seeded in the emulator,
exported by `dropgate export` (CSV, pages of 1000): orders per second, dropgate's
own CPU time and peak RSS (the emulator, in Python, is most of the wall time)."""
import json
import os
import subprocess
import sys
import time
import urllib.request

dropgate, src, work = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(os.environ.get("BENCH_ORDERS", "100000"))
os.makedirs(work, exist_ok=True)
port_file = os.path.join(work, "port")
emu = subprocess.Popen([sys.executable, os.path.join(src, "tests/emulator/commerce_emulator.py"), "--port", "0",
                        "--port-file", port_file, "--token-file", os.path.join(src, "data/demo-token")],
                       stderr=subprocess.DEVNULL)
while not os.path.exists(port_file):
    time.sleep(0.05)
port = int(open(port_file).read())
for start in range(1, n + 1, 10000):
    chunk = [{"entity_id": i, "increment_id": "1%08d" % i, "status": "processing",
              "created_at": "2026-11-26 10:00:00", "updated_at": "2026-11-26 %02d:%02d:%02d" % (i // 3600 % 24, i // 60 % 60, i % 60),
              "customer_email": "c%d@example.com" % i, "grand_total": 42.5, "order_currency_code": "EUR",
              "items": [{"item_id": i * 10 + k, "sku": "AB-%d" % (i % 5000 + k), "name": "Item %d" % k,
                         "qty_ordered": 1 + k, "price": 10.5, "row_total": 10.5 * (1 + k), "parent_item_id": None}
                        for k in range(2)],
              "extension_attributes": {"shipping_assignments": [{"shipping": {"address": {
                  "firstname": "Zoë", "lastname": "Müller", "street": ["Hauptstr. 1"], "city": "Berlin",
                  "postcode": "10115", "country_id": "DE"}}}]}}
             for i in range(start, min(start + 10000, n + 1))]
    req = urllib.request.Request("http://127.0.0.1:%d/__emulator/orders" % port, data=json.dumps(chunk).encode(),
                                 method="POST")
    urllib.request.urlopen(req).read()
conf = os.path.join(work, "dropgate.conf")
with open(conf, "w") as f:
    f.write("[dropgate]\nspool = %s/spool\nstate = %s/state\n[commerce]\nurl = http://127.0.0.1:%d\n"
            "token_file = %s\n[export orders]\nkind = orders\npartners = wms\nevery = 2m\nformat = csv\n"
            "page_size = 1000\n" % (work, work, port, os.path.join(src, "data/demo-token")))
t0 = time.time()
p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", dropgate, "-c", conf, "export", "orders"],
                   capture_output=True, text=True)
emu.kill()
if p.returncode != 0:
    print("export bench failed:", p.stdout, p.stderr)
    sys.exit(1)
wall, user, sys_, rss = p.stderr.strip().splitlines()[-1].split()
print("export of %d orders (%d items) in pages of 1000 from the emulator:" % (n, 2 * n))
print("  %s s wall: %.0f orders/s; dropgate's own CPU %.2f s (%.0f orders per CPU second); %.1f MB peak RSS"
      % (wall, n / float(wall), float(user) + float(sys_), n / max(0.01, float(user) + float(sys_)), int(rss) / 1024))
