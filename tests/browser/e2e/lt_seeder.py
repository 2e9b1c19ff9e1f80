#!/usr/bin/python3
"""One python3-libtorrent session seeding several torrents it makes, for the browser tests.

  lt_seeder.py ANNOUNCE_URL PIECE_LEN CONTENT...

For each CONTENT (a file or a directory) it writes CONTENT.torrent (v1, announce ANNOUNCE_URL,
PIECE_LEN bytes a piece) and prints "torrent CONTENT INFO_HASH"; then it seeds them all on
127.0.0.1 over TCP, prints "port N", and "seeding" once the tracker answered every torrent's
first announce (so a downloader that announces next finds this seeder). Runs until killed.
Must run under /usr/bin/python3 (Debian's python3-libtorrent).
"""
import os
import sys
import time

import libtorrent as lt


def make(content, announce, piece_len):
    fs = lt.file_storage()
    lt.add_files(fs, content)
    ct = lt.create_torrent(fs, piece_len, flags=lt.create_torrent.v1_only)
    ct.add_tracker(announce)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(content)))
    path = content + ".torrent"
    with open(path, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return path


def main():
    announce, piece_len, contents = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    torrents = []
    for content in contents:
        path = make(content, announce, piece_len)
        info = lt.torrent_info(path)
        print("torrent", content, str(info.info_hash()), flush=True)
        torrents.append((info, os.path.dirname(os.path.abspath(content))))
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
    })
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)
    for info, save in torrents:
        flags = lt.torrent_flags.seed_mode if hasattr(lt.torrent_flags, "seed_mode") else 0
        s.add_torrent({"ti": info, "save_path": save, "flags": flags})
    answered = set()
    deadline = time.time() + 30
    while len(answered) < len(torrents) and time.time() < deadline:
        s.wait_for_alert(500)
        for a in s.pop_alerts():
            if isinstance(a, lt.tracker_reply_alert):
                answered.add(str(a.handle.info_hash()))
            elif isinstance(a, (lt.tracker_error_alert, lt.torrent_error_alert)):
                print("alert", a.message(), flush=True)
    print("seeding", len(answered), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
