#!/usr/bin/python3
"""python3-libtorrent on the DHT for dht_interop.rs: a bootstrap node, or a peer that finds its
peers only through the DHT.

  dht_lt_peer.py node
  dht_lt_peer.py seed     TORRENT SAVE_DIR BOOTSTRAP_HOST:PORT
  dht_lt_peer.py download TORRENT SAVE_DIR BOOTSTRAP_HOST:PORT

Listens (TCP and DHT over UDP) on 127.0.0.1, any port, and prints "port N" once listening.

`node` is the tests' bootstrap node: no torrents, no bootstrap of its own; it answers queries
and stores announces for NODE_LIFETIME seconds (default 300), then exits. (A `mainline` crate
node cannot be libtorrent's bootstrap: it drops every query whose transaction id is not exactly
4 bytes, and libtorrent's are 2; dht_interop.rs has the test that shows it.)

`seed`/`download` bootstrap from the given node only, then print "seeding" or "done". The
torrent is trackerless and no peer is given: the DHT is the only way to meet. Re-announces
every 2 seconds so the test does not wait for libtorrent's 15-minute schedule. Downloads exit 0
when finished, 1 after DL_TIMEOUT seconds (default 60).

With DHT_LOG=FILE set, every DHT alert (log, packets, announces, lookups) goes to FILE.
Must run under /usr/bin/python3.
"""
import os
import sys
import time

import libtorrent as lt


def alert_mask():
    mask = lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
    if os.environ.get("DHT_LOG"):
        mask |= lt.alert.category_t.dht_notification | lt.alert.category_t.dht_log_notification
        mask |= lt.alert.category_t.dht_operation_notification
    return mask


def drain_alerts(s, log, start):
    for a in s.pop_alerts():
        if log is not None and "dht" in type(a).__name__:
            log.write("%.2f %s %s\n" % (time.time() - start, type(a).__name__, a.message()))
    if log is not None:
        log.flush()


def session(bootstrap):
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "dht_bootstrap_nodes": bootstrap,
        # Every node and peer here is 127.0.0.1: one IP, many nodes, all in a reserved range.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "dht_enforce_node_id": False,
        # libtorrent bans an IP sending more than 5 DHT packets a second for 5 minutes, and
        # caps its DHT replies at 8 KB/s: every node of a test shares 127.0.0.1.
        "dht_block_ratelimit": 1000000,
        "dht_upload_rate_limit": 10 * 1024 * 1024,
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": alert_mask(),
    })


def wait_listening(s):
    deadline = time.time() + 10
    while s.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", s.listen_port(), flush=True)


def run_node(log, start):
    s = session("")
    wait_listening(s)
    lifetime = float(os.environ.get("NODE_LIFETIME", "300"))
    while time.time() - start < lifetime:
        drain_alerts(s, log, start)
        time.sleep(0.1)
    return 0


def main():
    log = open(os.environ["DHT_LOG"], "a") if os.environ.get("DHT_LOG") else None
    start = time.time()
    if sys.argv[1:2] == ["node"]:
        return run_node(log, start)
    mode, torrent, save_dir, bootstrap = sys.argv[1:5]
    s = session(bootstrap)
    wait_listening(s)
    params = {"ti": lt.torrent_info(torrent), "save_path": save_dir}
    if mode == "seed" and hasattr(lt.torrent_flags, "seed_mode"):
        params["flags"] = lt.torrent_flags.seed_mode
    h = s.add_torrent(params)
    timeout = float(os.environ.get("DL_TIMEOUT", "60"))
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
        for _ in range(20):
            drain_alerts(s, log, start)
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
