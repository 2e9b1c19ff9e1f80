#!/usr/bin/python3
"""A python3-libtorrent downloader that expects NOT to finish: for btpublish serving a file of
which some pieces changed (and are no longer served).

  publish_lt_partial.py TORRENT SAVE_DIR WANT_PIECES TIMEOUT LINGER

Downloads through the torrent's tracker until it has WANT_PIECES pieces (or TIMEOUT seconds
pass), then watches LINGER seconds more (it must get nothing else), and prints:
  have I,J,...      the pieces it has (verified by libtorrent)
  failed N          bytes that failed libtorrent's hash check (bad data someone sent)
  pieces N          the torrent's piece count
Exit 0 when WANT_PIECES was reached, 1 on timeout. Must run under /usr/bin/python3.
"""
import sys
import time

import libtorrent as lt


def main():
    torrent, save_dir = sys.argv[1], sys.argv[2]
    want, timeout, linger = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
    })
    ti = lt.torrent_info(torrent)
    h = s.add_torrent({"ti": ti, "save_path": save_dir})
    deadline = time.time() + timeout
    reached = False
    while time.time() < deadline:
        if h.status().num_pieces >= want:
            reached = True
            break
        time.sleep(0.05)
    if reached:
        # Nothing more may arrive: the rest is withdrawn.
        time.sleep(linger)
    st = h.status()
    have = [i for i in range(ti.num_pieces()) if h.have_piece(i)]
    print("have", ",".join(map(str, have)), flush=True)
    print("failed", st.total_failed_bytes, flush=True)
    print("pieces", ti.num_pieces(), flush=True)
    return 0 if reached else 1


if __name__ == "__main__":
    sys.exit(main())
