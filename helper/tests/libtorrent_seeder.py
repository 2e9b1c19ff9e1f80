# A python3-libtorrent seeder for bthelper's interop test: seeds DIR/NAME described by TORRENT on
# loopback (TCP only), prints its port, then runs until stdin closes. An optional third argument
# caps its upload in bytes per second (on loopback too: the cap goes on the "local" peer class,
# which libtorrent otherwise leaves unlimited).
import sys, time
import libtorrent as lt

torrent, save_dir = sys.argv[1], sys.argv[2]
ses = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_outgoing_utp': False, 'enable_incoming_utp': False,
    'allow_multiple_connections_per_ip': True,
})
if len(sys.argv) > 3:
    local = ses.get_peer_class(lt.session.local_peer_class_id)
    local['upload_limit'] = int(sys.argv[3])
    ses.set_peer_class(lt.session.local_peer_class_id, local)
h = ses.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save_dir})
deadline = time.time() + 30
while not h.status().is_seeding:
    if time.time() > deadline:
        sys.exit('the seeder did not finish checking')
    time.sleep(0.05)
print(ses.listen_port(), flush=True)
sys.stdin.read()
