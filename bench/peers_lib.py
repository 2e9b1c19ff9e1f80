#!/usr/bin/python3
"""The peers of bench/peers.sh (many peers on one torrent).

  peers_lib.py idle PID PORT TORRENT PEERS TOTAL
      Light scripted peers against the client with process id PID listening on 127.0.0.1:PORT:
      opens PEERS connections, each from an address of its own (127.0.x.y, y >= 2), handshakes
      like libtorrent (extension protocol, fast extension), says it has nothing (have_none) and
      idles (a keep-alive a minute, reading whatever it is sent). Then churns: closes a hundred,
      opens a hundred new ones, until TOTAL connections were opened in all, PEERS open at the
      end. Reads the client's VmRSS (/proc/PID/status) before, with PEERS connected, after the
      churn, and after closing them all, and prints one line:
        rss_kib base=B connected=C churned=H closed=X open=N open_after_churn=M opened=T
      (N, M: connections the client still held open at those two points).
  peers_lib.py seeders N TORRENT SAVE_DIR
      N python3-libtorrent sessions seeding TORRENT from SAVE_DIR, each listening on an address
      of its own (127.0.1.1, 127.0.1.2, ...), TCP only; prints "peer ADDR:PORT" for each, then
      "seeding", and runs until killed.
  peers_lib.py seed TORRENT SAVE_DIR CONNECTIONS
      One libtorrent session seeding TORRENT on 127.0.0.1 with its connection limit raised to
      CONNECTIONS; prints "port N", then "seeding".

Must run under /usr/bin/python3 (Debian's python3-libtorrent). Every wait has a timeout.
"""
import asyncio
import hashlib
import os
import sys
import time

PSTR = b"\x13BitTorrent protocol"
# Reserved bits as libtorrent sends them: extension protocol (BEP 10), fast extension (BEP 6).
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])
CONNECT_TIMEOUT = 10.0
SETTLE = float(os.environ.get("SETTLE", "3"))


def info_hash(torrent_path):
    import libtorrent as lt
    return lt.torrent_info(torrent_path).info_hash().to_bytes()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def bencode_ext_handshake():
    # {"m": {"ut_metadata": 1, "ut_pex": 2}, "v": "idle"}: what a plain client announces.
    return b"d1:md11:ut_metadatai1e6:ut_pexi2ee1:v4:idlee"


class Idle:
    """One idle peer connection."""

    def __init__(self, n, port, ih):
        self.addr = "127.0.%d.%d" % (n // 250, 2 + n % 250)
        self.port = port
        self.ih = ih
        self.peer_id = b"-ID0001-" + hashlib.sha1(b"%d" % n).digest()[:12]
        self.open = False
        self.task = None
        self.writer = None

    async def start(self):
        """Connects and exchanges handshakes; True once the client answered its handshake."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port, local_addr=(self.addr, 0)),
                CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return False
        self.writer = writer
        try:
            writer.write(PSTR + RESERVED + self.ih + self.peer_id)
            ext = bencode_ext_handshake()
            writer.write(len(ext + b"xx").to_bytes(4, "big") + b"\x14\x00" + ext)
            writer.write(b"\x00\x00\x00\x01\x0f")  # have_none
            await writer.drain()
            hs = await asyncio.wait_for(reader.readexactly(68), CONNECT_TIMEOUT)
            if hs[28:48] != self.ih:
                raise ConnectionError("wrong info-hash")
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return False
        self.open = True
        self.task = asyncio.ensure_future(self.idle(reader, writer))
        return True

    async def idle(self, reader, writer):
        last = time.monotonic()
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), 30)
                    if not data:
                        break
                except asyncio.TimeoutError:
                    pass
                if time.monotonic() - last > 60:
                    writer.write(b"\x00\x00\x00\x00")
                    await writer.drain()
                    last = time.monotonic()
        except (OSError, ConnectionError):
            pass
        self.open = False

    def close(self):
        if self.task:
            self.task.cancel()
        if self.writer:
            self.writer.close()
        self.open = False


async def idle_main(pid, port, torrent, peers, total):
    ih = info_hash(torrent)
    await asyncio.sleep(SETTLE)
    base = rss_kib(pid)
    opened = 0
    live = []

    async def open_some(k):
        nonlocal opened
        batch = [Idle(opened + i, port, ih) for i in range(k)]
        opened += k
        # Twenty at a time: the client's bound on handshakes in progress is not what is measured.
        for i in range(0, k, 20):
            await asyncio.gather(*(p.start() for p in batch[i:i + 20]))
        live.extend(batch)

    await open_some(peers)
    await asyncio.sleep(SETTLE)
    open_now = sum(p.open for p in live)
    connected = rss_kib(pid)
    while opened < total:
        k = min(100, total - opened, len(live))
        for p in live[:k]:
            p.close()
        del live[:k]
        await open_some(k)
        await asyncio.sleep(0.5)
    await asyncio.sleep(SETTLE)
    open_after = sum(p.open for p in live)
    churned = rss_kib(pid)
    for p in live:
        p.close()
    await asyncio.sleep(SETTLE * 2)
    closed = rss_kib(pid)
    print("rss_kib base=%d connected=%d churned=%d closed=%d open=%d open_after_churn=%d opened=%d"
          % (base, connected, churned, closed, open_now, open_after, opened), flush=True)


def lt_session(listen, connections):
    import libtorrent as lt
    s = lt.session({
        "listen_interfaces": listen,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "connections_limit": connections,
        "alert_mask": lt.alert.category_t.error_notification,
    })
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    return s


def lt_seed(s, torrent, save_dir):
    import libtorrent as lt
    s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir,
                   "flags": lt.torrent_flags.seed_mode})


def main():
    mode = sys.argv[1]
    if mode == "idle":
        pid, port, torrent, peers, total = sys.argv[2:7]
        asyncio.run(asyncio.wait_for(
            idle_main(int(pid), int(port), torrent, int(peers), int(total)), 600))
        return 0
    if mode == "seeders":
        n, torrent, save_dir = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        sessions = []
        for i in range(n):
            addr = "127.0.1.%d" % (i + 1)
            s = lt_session(addr + ":0", 200)
            lt_seed(s, torrent, save_dir)
            sessions.append(s)
            print("peer %s:%d" % (addr, s.listen_port()), flush=True)
        print("seeding", flush=True)
        while True:
            time.sleep(3600)
    if mode == "seed":
        torrent, save_dir, connections = sys.argv[2], sys.argv[3], int(sys.argv[4])
        s = lt_session("127.0.0.1:0", connections)
        print("port", s.listen_port(), flush=True)
        lt_seed(s, torrent, save_dir)
        print("seeding", flush=True)
        while True:
            time.sleep(3600)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
