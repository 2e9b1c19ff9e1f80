#!/usr/bin/python3
"""python3-libtorrent peers for pex_interop.rs: who learns whom through ut_pex (BEP 11).

  pex_lt_peer.py seed     TORRENT SAVE_DIR
  pex_lt_peer.py hub      TORRENT SAVE_DIR PEER_PORT
  pex_lt_peer.py download TORRENT SAVE_DIR PEER_PORT

All listen on 127.0.0.1 (any port, TCP only, no DHT, LSD or trackers) and print "port N" first.

seed:     a seeder with PEX off for its torrent, so it never learns of anyone through PEX: only
          peers that found it themselves connect. Prints "seeding", then "uploaded N" (payload
          bytes) whenever that grows.
hub:      an empty peer that dials 127.0.0.1:PEER_PORT and downloads at HUB_RATE bytes/s at
          most (default 65536), so it has little to give; its ut_pex tells its other peers about
          PEER_PORT. Prints "peers N", "downloaded N" and "uploaded N" whenever they change. (A
          limit of a few bytes/s would starve even the handshake: libtorrent's limit counts
          every byte read.)
download: an empty peer that dials only 127.0.0.1:PEER_PORT, PEX on. When complete it prints,
          for each peer it got blocks from, "from PORT BYTES" (counted from block_finished
          alerts: on loopback the whole download can fall between two polls of the peer list,
          and a finished libtorrent drops its connections to seeds at once), then "done", and
          exits 0 (1 after DL_TIMEOUT seconds, default 60).

Every process ends by itself after LIFETIME seconds (default 240). Must run under
/usr/bin/python3 (Debian's python3-libtorrent).
"""
import os
import sys
import time

import libtorrent as lt


def session(mode):
    mask = lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
    if mode == "download":
        mask |= lt.alert.category_t.block_progress_notification
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        # Everyone here is 127.0.0.1.
        "allow_multiple_connections_per_ip": True,
        "alert_mask": mask,
        "alert_queue_size": 100000,
    })
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)
    return s


def main():
    mode, torrent, save_dir = sys.argv[1:4]
    start = time.time()
    lifetime = float(os.environ.get("LIFETIME", "240"))
    s = session(mode)
    ti = lt.torrent_info(torrent)
    params = {"ti": ti, "save_path": save_dir}
    if mode == "seed":
        params["flags"] = lt.torrent_flags.seed_mode | lt.torrent_flags.disable_pex
    h = s.add_torrent(params)
    if mode == "hub":
        h.set_download_limit(int(os.environ.get("HUB_RATE", "65536")))
    if mode in ("hub", "download"):
        h.connect_peer(("127.0.0.1", int(sys.argv[4])))
    timeout = float(os.environ.get("DL_TIMEOUT", "60"))
    said = {}
    got = {}

    def say(key, value):
        if said.get(key) != value:
            said[key] = value
            print(key, value, flush=True)

    def count_blocks():
        for a in s.pop_alerts():
            if isinstance(a, lt.block_finished_alert):
                # Every block is 16 KiB but the last one of the torrent.
                piece_len = ti.piece_size(a.piece_index)
                size = min(16384, piece_len - a.block_index * 16384)
                got[a.endpoint[1]] = got.get(a.endpoint[1], 0) + size

    while time.time() - start < lifetime:
        if mode == "download":
            count_blocks()
        st = h.status()
        if mode == "seed":
            if st.is_seeding:
                say("seeding", "")
                say("uploaded", st.total_payload_upload)
        elif mode == "hub":
            say("peers", st.num_peers)
            say("downloaded", st.total_payload_download)
            say("uploaded", st.total_payload_upload)
        elif st.is_seeding:
            count_blocks()
            for port, n in sorted(got.items()):
                print("from", port, n, flush=True)
            print("done", flush=True)
            return 0
        if mode == "download" and time.time() - start > timeout:
            print("timeout", st.progress, st.num_peers, flush=True)
            return 1
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
