// TorrentStatus fixtures for rendering the popup's view without a helper (the view test);
// the full-flow tests use the real helper instead.
const base = {
  downloaded: 0, uploaded: 0, down_rate: 0, up_rate: 0, peers: 0, seeds: 0, eta_secs: null, error: null,
  save_path: '/home/user/Downloads',
};
export const FIXTURE_TORRENTS = [
  { ...base, info_hash: '1'.repeat(40), name: 'debian-13.2.0-amd64-netinst.iso', state: 'downloading', progress: 0.4213,
    total_bytes: 754974720, have_bytes: 318070784, downloaded: 318070784, down_rate: 4718592, up_rate: 393216,
    peers: 23, seeds: 17, eta_secs: 93 },
  { ...base, info_hash: '2'.repeat(40), name: 'Big Buck Bunny (1080p).mp4', state: 'seeding', progress: 1,
    total_bytes: 276134947, have_bytes: 276134947, uploaded: 52428800, up_rate: 131072, peers: 4, seeds: 0 },
  { ...base, info_hash: '3'.repeat(40), name: 'The Complete Works of William Shakespeare — Project Gutenberg edition',
    state: 'paused', progress: 0.125, total_bytes: 5767168, have_bytes: 720896 },
  { ...base, info_hash: '4'.repeat(40), name: 'ubuntu-24.04-desktop-amd64.iso', state: 'connecting', progress: 0,
    total_bytes: 6114656256, have_bytes: 0 },
  { ...base, info_hash: '5'.repeat(40), name: 'archive.tar.zst', state: 'error', progress: 0.62,
    total_bytes: 104857600, have_bytes: 65011712, error: 'No space left on device (os error 28)' },
];
