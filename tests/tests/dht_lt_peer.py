#!/usr/bin/python3
"""A python3-libtorrent peer that finds its peers only through the DHT, for dht_interop.rs.

  dht_lt_peer.py seed     TORRENT SAVE_DIR BOOTSTRAP_HOST:PORT
  dht_lt_peer.py download TORRENT SAVE_DIR BOOTSTRAP_HOST:PORT

Listens (TCP and DHT over UDP) on 127.0.0.1, any port; bootstraps its DHT from the given node
only. Prints "port N" once listening, then "seeding" or "done". The torrent is trackerless and
no peer is given: the DHT is the only way to meet. Re-announces to the DHT every 2 seconds so
the test does not wait for libtorrent's 15-minute schedule. Downloads exit 0 when finished, 1
after DL_TIMEOUT seconds (default 60). Must run under /usr/bin/python3.
"""
import os
import sys
import time

import libtorrent as lt


def main():
    mode, torrent, save_dir, bootstrap = sys.argv[1:5]
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "dht_bootstrap_nodes": bootstrap,
        # Loopback nodes and peers are what this test has: let libtorrent use them.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "dht_enforce_node_id": False,
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)
    params = {"ti": lt.torrent_info(torrent), "save_path": save_dir}
    if mode == "seed" and hasattr(lt.torrent_flags, "seed_mode"):
        params["flags"] = lt.torrent_flags.seed_mode
    h = s.add_torrent(params)
    timeout = float(os.environ.get("DL_TIMEOUT", "60"))
    start = time.time()
    announced = False
    while True:
        st = h.status()
        if mode == "seed" and st.is_seeding and not announced:
            print("seeding", flush=True)
            announced = True
        if mode == "download" and st.is_seeding:
            print("done", flush=True)
            return 0
        if mode == "download" and time.time() - start > timeout:
            print("timeout", st.progress, st.num_peers, flush=True)
            return 1
        h.force_dht_announce()
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
