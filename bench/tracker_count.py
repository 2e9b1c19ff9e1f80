"""Sum the peers a tracker holds over the 1000 bench hashes via scrape (50 hashes a request)."""
import sys, urllib.request

base = sys.argv[1]
total = 0
for start in range(1, 1001, 50):
    q = "&".join("info_hash=" + "".join("%%%s" % format(i, "040x")[j:j + 2] for j in range(0, 40, 2))
                 for i in range(start, start + 50))
    body = urllib.request.urlopen(base + "/scrape?" + q, timeout=30).read()
    # Count without a bencode library: every entry has complete and incomplete integers.
    for key in (b"8:completei", b"10:incompletei"):
        at = 0
        while True:
            at = body.find(key, at)
            if at < 0:
                break
            at += len(key)
            end = body.index(b"e", at)
            total += int(body[at:end])
print(total)
