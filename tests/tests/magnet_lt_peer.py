#!/usr/bin/python3
"""A python3-libtorrent peer for Swarmlink's magnet and PEX interop tests.

  magnet_lt_peer.py seed   TORRENT SAVE_DIR [PEER_ADDR...]   seed a .torrent
  magnet_lt_peer.py magnet URI SAVE_DIR [PEER_ADDR...]       fetch a magnet (metadata over BEP 9), then download
  magnet_lt_peer.py slow   TORRENT SAVE_DIR [PEER_ADDR...]   download at 8 KiB/s (stays a leecher a long time)

Listens on 127.0.0.1 (any port), TCP only, no DHT/LSD/UPnP. Prints "port N" once listening;
`seed` prints "seeding"; `magnet` prints "metadata NAME" when the info dictionary arrived and
"done" when the download finished (then keeps running). Every second it prints
"peers ADDR,ADDR" (the peers it is connected to, as it sees them) when the set changed.
Runs until killed (or 600 s). Must run under /usr/bin/python3 (Debian's python3-libtorrent).
"""
import sys
import time

import libtorrent as lt


def main():
    mode, what, save_dir, peers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    }
    if mode == "slow":
        settings["download_rate_limit"] = 8 * 1024
    s = lt.session(settings)
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)
    if mode == "magnet":
        params = lt.parse_magnet_uri(what)
        params.save_path = save_dir
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(what)
        params.save_path = save_dir
    h = s.add_torrent(params)

    def dial():
        for p in peers:
            host, port = p.rsplit(":", 1)
            h.connect_peer((host, int(port)))

    if mode == "seed":
        h.force_recheck()  # peers are dialed once the check is done (libtorrent drops them before)
    else:
        dial()
    said_metadata = said_done = said_seeding = False
    last_peers = None
    end = time.time() + 600
    while time.time() < end:
        st = h.status()
        if mode == "seed" and st.is_seeding and not said_seeding:
            said_seeding = True
            dial()
            print("seeding", flush=True)
        if mode == "magnet" and st.has_metadata and not said_metadata:
            said_metadata = True
            print("metadata", h.torrent_file().name(), flush=True)
        # Not is_finished alone: right after the metadata arrives libtorrent can say finished
        # before it has wanted a single piece (CI saw "done" with files still missing), so
        # every wanted byte must be there.
        finished = st.is_seeding or st.is_finished
        complete = st.has_metadata and st.total_wanted > 0 and st.total_wanted_done == st.total_wanted
        if mode == "magnet" and finished and complete and not said_done:
            said_done = True
            print("done", flush=True)
        now = sorted("%s:%d" % (p.ip[0], p.ip[1]) for p in h.get_peer_info())
        if now != last_peers:
            last_peers = now
            print("peers", ",".join(now), flush=True)
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
