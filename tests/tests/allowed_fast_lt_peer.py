#!/usr/bin/python3
"""A python3-libtorrent peer for the BEP 6 allowed-fast interop tests.

  allowed_fast_lt_peer.py seed  TORRENT SAVE_DIR K   a seeder that chokes everyone and grants an
                                                      allowed-fast set of K pieces
  allowed_fast_lt_peer.py leech TORRENT SAVE_DIR PEER a downloader dialing PEER ("ip:port")

Listens on 127.0.0.1 (any port), TCP only, and prints "port N" once listening. The seeder then
prints "seeding"; the leecher prints "have I,J,..." (its verified pieces) whenever they change.
Both run until killed (or 600 s, a safety net). Must run under /usr/bin/python3.
"""
import sys
import time

import libtorrent as lt


def session(extra):
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification,
    }
    settings.update(extra)
    s = lt.session(settings)
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)
    return s


def main():
    mode, torrent, save_dir, arg = sys.argv[1:5]
    end = time.time() + 600
    if mode == "seed":
        s = session({
            # No upload slots: everyone stays choked. The optimistic unchoke (one slot even
            # then) is pushed out of the test's lifetime; its first round runs at the first
            # second tick, before any peer can have connected (hence the pause below).
            "unchoke_slots_limit": 0,
            "optimistic_unchoke_interval": 3600,
            "allowed_fast_set_size": int(arg),
        })
        # Loopback peers fall in libtorrent's "local" peer class, which by default ignores
        # the unchoke slots (it would unchoke us at once): make it count them too.
        local = s.get_peer_class(lt.session.local_peer_class_id)
        local["ignore_unchoke_slots"] = False
        s.set_peer_class(lt.session.local_peer_class_id, local)
        flags = lt.torrent_flags.seed_mode if hasattr(lt.torrent_flags, "seed_mode") else 0
        s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir, "flags": flags})
        time.sleep(2)
        print("seeding", flush=True)
        while time.time() < end:
            time.sleep(0.5)
        return 0
    s = session({})
    h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir})
    host, port = arg.rsplit(":", 1)
    h.connect_peer((host, int(port)))
    last = None
    while time.time() < end:
        pieces = h.status(lt.status_flags_t.query_pieces).pieces
        have = [i for i, p in enumerate(pieces) if p]
        if have != last:
            print("have " + ",".join(map(str, have)), flush=True)
            last = have
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
