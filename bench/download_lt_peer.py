#!/usr/bin/python3
"""A python3-libtorrent peer for Swarmlink's interop tests and download benchmark.

  download_lt_peer.py seed     TORRENT SAVE_DIR [PEER_ADDR...]
  download_lt_peer.py download TORRENT SAVE_DIR [PEER_ADDR...]
  download_lt_peer.py create   FILE_OR_DIR TORRENT [PIECE_LEN] [--pad]

Listens on 127.0.0.1 (any port; LT_LISTEN overrides, e.g. "[::1]:0") over TCP only, prints "port N" once listening, then "seeding" or
"done SECONDS" (download: time from adding the torrent to finished). Seeds run until killed;
downloads exit 0 when finished, 1 on timeout (DL_TIMEOUT seconds, default 120).
Must run under /usr/bin/python3 (Debian's python3-libtorrent).
"""
import os
import sys
import time

import libtorrent as lt


def session():
    s = lt.session({
        "listen_interfaces": os.environ.get("LT_LISTEN", "127.0.0.1:0"),
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)
    return s


def add(s, torrent, save_dir, peers, seed):
    params = {"ti": lt.torrent_info(torrent), "save_path": save_dir}
    if seed:
        params["flags"] = lt.torrent_flags.seed_mode if hasattr(lt.torrent_flags, "seed_mode") else 0
    h = s.add_torrent(params)
    for p in peers:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host, int(port)))
    return h


def main():
    mode = sys.argv[1]
    if mode == "create":
        fs = lt.file_storage()
        lt.add_files(fs, sys.argv[2])
        piece_len = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "--pad" else 0
        # libtorrent 2 pads files to piece boundaries (BEP 47) in hybrid v1+v2 torrents only.
        flags = 0 if "--pad" in sys.argv else lt.create_torrent.v1_only
        ct = lt.create_torrent(fs, piece_len, flags=flags)
        lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(sys.argv[2])))
        with open(sys.argv[3], "wb") as f:
            f.write(lt.bencode(ct.generate()))
        return 0
    torrent, save_dir, peers = sys.argv[2], sys.argv[3], sys.argv[4:]
    s = session()
    start = time.time()
    h = add(s, torrent, save_dir, peers, mode == "seed")
    if mode == "seed":
        print("seeding", flush=True)
        while True:
            time.sleep(3600)
    deadline = start + float(os.environ.get("DL_TIMEOUT", "120"))
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding or st.is_finished:
            print("done %.3f" % (time.time() - start), flush=True)
            return 0
        time.sleep(0.02)
    print("timeout", h.status().progress, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
