#!/usr/bin/env python3
"""The Python side of bench/scale.sh: makes the 2,000 torrents (data and .torrent files) once,
adds them to each client through its own interface, and waits until every one is seeding.

  scale_lib.py make CACHE N
      CACHE/data/<name> (the files, real random bytes, never sparse), CACHE/torrents/<i>.torrent;
      CACHE/.complete-N marks a finished set (a set half made is made again).
  scale_lib.py bthelper-add SOCK DATA TORRENTS_DIR      (the daemon's socket protocol: `add`)
  scale_lib.py bthelper-wait SOCK N TIMEOUT
  scale_lib.py transmission-wait RPCPORT N TIMEOUT      (its RPC: torrent-get)
  scale_lib.py rqbit-add APIPORT DATA TORRENTS_DIR      (its HTTP API: POST /torrents)
  scale_lib.py rqbit-wait APIPORT N TIMEOUT

A wait prints "seeding N/N after S s" and exits 0 when all N are seeding, or prints what the
states were and exits 1 at TIMEOUT. It also prints every state it saw on the way (a `checking`
seen after a restart means a re-hash).
"""
import base64, hashlib, json, os, random, socket, struct, sys, threading, time, urllib.request, urllib.error

MIB = 1 << 20


# ---------------------------------------------------------------- the torrents
def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(map(bencode, v)) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


def plan(n):
    """The size mix: torrent 0 is 1 GiB, 1-3 are 256 MiB, 4-19 are 64 MiB, the rest 1-4 MiB
    (uniform, not piece-aligned). Every third torrent (and every other large one) holds several
    files. Returns [(name, total_size, [file sizes] or None for single-file, piece_length)]."""
    rng = random.Random(20)
    out = []
    for i in range(n):
        if i == 0:
            size = 1024 * MIB
        elif i < 4:
            size = 256 * MIB
        elif i < 20:
            size = 64 * MIB
        else:
            size = MIB + rng.randrange(3 * MIB)
        piece = 256 * 1024 if size <= 16 * MIB else (1 * MIB if size <= 256 * MIB else 2 * MIB)
        multi = (i % 3 == 0) if i >= 20 else (i % 2 == 1)
        files = None
        if multi:
            k = 2 + i % 4
            cuts = sorted(rng.sample(range(1, size), k - 1))
            files = [b - a for a, b in zip([0] + cuts, cuts + [size])]
        out.append(("scale-%04d%s" % (i, "" if multi else ".bin"), size, files, piece))
    return out


def make(cache, n):
    n = int(n)
    mark = os.path.join(cache, ".complete-%d" % n)
    if os.path.exists(mark):
        print("torrents already made in %s" % cache)
        return
    data, tdir = os.path.join(cache, "data"), os.path.join(cache, "torrents")
    os.makedirs(data, exist_ok=True)
    os.makedirs(tdir, exist_ok=True)
    t0 = time.time()
    total = 0
    for i, (name, size, files, plen) in enumerate(plan(n)):
        # The bytes are written and hashed in one pass, piece by piece across the files.
        paths = [os.path.join(data, name)] if files is None else \
            [os.path.join(data, name, "part-%d.dat" % j) for j in range(len(files))]
        sizes = [size] if files is None else files
        if files is not None:
            os.makedirs(os.path.join(data, name), exist_ok=True)
        pieces, cur = [], hashlib.sha1()
        in_piece = 0
        for path, fsize in zip(paths, sizes):
            with open(path, "wb") as f:
                left = fsize
                while left:
                    chunk = os.urandom(min(left, plen - in_piece, 4 * MIB))
                    f.write(chunk)
                    cur.update(chunk)
                    in_piece += len(chunk)
                    left -= len(chunk)
                    if in_piece == plen:
                        pieces.append(cur.digest()); cur = hashlib.sha1(); in_piece = 0
        if in_piece:
            pieces.append(cur.digest())
        info = {"name": name, "piece length": plen, "pieces": b"".join(pieces)}
        if files is None:
            info["length"] = size
        else:
            info["files"] = [{"length": s, "path": ["part-%d.dat" % j]} for j, s in enumerate(files)]
        meta = {"info": info, "created by": "swarmlink bench/scale.sh", "creation date": 1796601600}
        with open(os.path.join(tdir, "%04d.torrent" % i), "wb") as f:
            f.write(bencode(meta))
        total += size
        if i % 200 == 0:
            print("  made %d/%d (%.1f GiB so far, %.0f s)" % (i, n, total / 1024 ** 3, time.time() - t0), flush=True)
    open(mark, "w").write("%d torrents, %d bytes\n" % (n, total))
    print("made %d torrents, %.2f GiB, in %.0f s" % (n, total / 1024 ** 3, time.time() - t0))


def torrent_files(tdir):
    return sorted(os.path.join(tdir, f) for f in os.listdir(tdir) if f.endswith(".torrent"))


# ---------------------------------------------------------------- waiting
def wait(states_fn, n, timeout, label):
    """states_fn() -> list of state strings (one per torrent, "seeding" when seeding)."""
    t0 = time.time()
    seen = {}
    last = []
    while True:
        try:
            last = states_fn()
        except Exception as e:  # the client is still starting
            last = []
            err = str(e)
        for s in last:
            seen[s] = seen.get(s, 0) + 1
        done = sum(1 for s in last if s == "seeding")
        if done >= n and len(last) >= n:
            print("seeding %d/%d after %.2f s; states seen while waiting (polls x torrents): %s"
                  % (done, n, time.time() - t0, json.dumps(seen, sort_keys=True)))
            return 0
        if time.time() - t0 > timeout:
            counts = {}
            for s in last:
                counts[s] = counts.get(s, 0) + 1
            print("%s: TIMEOUT after %d s: %d listed, states %s" % (label, timeout, len(last), counts))
            return 1
        time.sleep(0.1)


# ---------------------------------------------------------------- bthelper
class Daemon:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.id = 0

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            c = self.s.recv(n - len(buf))
            if not c:
                raise EOFError("daemon closed the connection")
            buf += c
        return buf

    def send(self, msg):
        self.id += 1
        msg = dict(msg, id=self.id)
        b = json.dumps(msg).encode()
        self.s.sendall(struct.pack("<I", len(b)) + b)

    def recv(self):
        (n,) = struct.unpack("<I", self._read(4))
        return json.loads(self._read(n))

    def call(self, msg):
        self.send(msg)
        while True:
            r = self.recv()
            if "event" not in r:
                return r


def bthelper_add(sock, data, tdir):
    d = Daemon(sock)
    r = d.call({"cmd": "set_settings", "settings": {"allowed_dirs": [data]}})
    assert r["ok"], r
    files = torrent_files(tdir)
    t0 = time.time()
    # Pipelined: replies come back in order. The requests are written by a thread of their own
    # while this one reads the replies (a daemon whose replies nobody reads stops reading too).
    def send_all():
        for f in files:
            d.send({"cmd": "add", "torrent_b64": base64.b64encode(open(f, "rb").read()).decode(), "save_dir": data})
    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    bad = 0
    for f in files:
        r = d.recv()
        if not r.get("ok") and r.get("error", {}).get("code") != "already_added":
            bad += 1
            if bad < 5:
                print("add %s: %s" % (f, r), file=sys.stderr)
    print("added %d torrents in %.1f s (%d refused)" % (len(files), time.time() - t0, bad))
    return 1 if bad else 0


def bthelper_states(sock):
    d = Daemon(sock)
    out, off = [], 0
    while off is not None:
        r = d.call({"cmd": "list", "offset": off})
        if not r.get("ok"):
            raise RuntimeError(str(r))
        out += [t["state"] for t in r["result"]["torrents"]]
        off = r["result"]["next_offset"]
    d.s.close()
    return out


# ---------------------------------------------------------------- transmission
class TrRpc:
    def __init__(self, port):
        self.url = "http://127.0.0.1:%s/transmission/rpc" % port
        self.sid = ""

    def call(self, method, args):
        body = json.dumps({"method": method, "arguments": args}).encode()
        for _ in range(3):
            req = urllib.request.Request(self.url, body, {"X-Transmission-Session-Id": self.sid})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code == 409:
                    self.sid = e.headers["X-Transmission-Session-Id"]
                    continue
                raise
        raise RuntimeError("no session id")


def transmission_states(rpc):
    r = rpc.call("torrent-get", {"fields": ["status", "percentDone", "error"]})
    # status: 0 stopped, 1 check wait, 2 checking, 3 download wait, 4 downloading, 5 seed wait, 6 seeding
    names = {0: "stopped", 1: "check_wait", 2: "checking", 3: "download_wait", 4: "downloading",
             5: "seed_wait", 6: "seeding"}
    out = []
    for t in r["arguments"]["torrents"]:
        s = names.get(t["status"], str(t["status"]))
        if s == "seeding" and t["percentDone"] < 1:
            s = "seeding_incomplete"
        if t.get("error"):
            s = "error"
        out.append(s)
    return out


# ---------------------------------------------------------------- rqbit
def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return (out if c == b"l" else dict(zip(out[::2], out[1::2]))), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def rqbit_add(port, data, tdir):
    files = torrent_files(tdir)
    t0 = time.time()
    bad = 0
    for f in files:
        body = open(f, "rb").read()
        info = bdecode(body)[0][b"info"]
        # rqbit puts a torrent's files straight into output_folder (no folder of the torrent's
        # name), so a multi-file torrent's output_folder is its own folder under DATA.
        # overwrite=true: use the files already there (checked, not re-downloaded).
        out = data if b"files" not in info else os.path.join(data, info[b"name"].decode())
        url = "http://127.0.0.1:%s/torrents?overwrite=true&output_folder=%s" % (
            port, urllib.request.quote(out))
        req = urllib.request.Request(url, body, {"Content-Type": "application/x-bittorrent"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
        except urllib.error.HTTPError as e:
            bad += 1
            if bad < 5:
                print("add %s: %s %s" % (f, e.code, e.read()[:300]), file=sys.stderr)
    print("added %d torrents in %.1f s (%d refused)" % (len(files), time.time() - t0, bad))
    return 1 if bad else 0


def rqbit_states(port):
    with urllib.request.urlopen("http://127.0.0.1:%s/torrents?with_stats=true" % port, timeout=30) as r:
        j = json.loads(r.read())
    out = []
    for t in j["torrents"]:
        st = t.get("stats") or {}
        s = st.get("state", "?")
        if s == "live" and st.get("finished"):
            s = "seeding"
        out.append(s)
    return out


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        return make(*a)
    if cmd == "bthelper-add":
        return bthelper_add(*a)
    if cmd == "bthelper-wait":
        return wait(lambda: bthelper_states(a[0]), int(a[1]), float(a[2]), "bthelper")
    if cmd == "transmission-wait":
        rpc = TrRpc(a[0])
        return wait(lambda: transmission_states(rpc), int(a[1]), float(a[2]), "transmission")
    if cmd == "rqbit-add":
        return rqbit_add(*a)
    if cmd == "rqbit-wait":
        return wait(lambda: rqbit_states(a[0]), int(a[1]), float(a[2]), "rqbit")
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main() or 0)
