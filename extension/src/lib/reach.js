// Whether peers can reach the helper, from its `hello` reply (helper/PROTOCOL.md): the popup's
// small indicator, like qBittorrent's connection status icon. Pure, so it is unit-tested.

import { displayText } from './text.js';

// How `hello`'s port_mapping.method is shown; anything else is the helper's newer word.
const METHODS = { pcp: 'PCP', natpmp: 'NAT-PMP', upnp: 'UPnP' };
// The likely cause when the helper warns (`connectable.warning`, after minutes without a peer
// from the internet), and what the user can do.
const WARNINGS = {
  no_mapping: 'the router forwards no port to us. Turn on UPnP or NAT-PMP in the router, or forward the peer port by hand.',
  firewall: 'the router forwards our port, so a firewall on this computer or a second NAT (the provider\'s) likely blocks them.',
};

/**
 * `{kind, label}` for the indicator: kind 'yes' (a peer from the internet connected to us),
 * 'lan' (only LAN peers did), 'mapped' (the router forwards our port, nobody came yet), 'no'
 * (no router mapping and nobody came yet), 'warn' (minutes without a peer from the internet: the
 * helper names the likely cause) or 'unknown' (an older helper); label is the tooltip.
 */
export function reachability(hello) {
  const c = hello && typeof hello === 'object' ? hello.connectable : null;
  const map = hello && typeof hello === 'object' ? hello.port_mapping : null;
  if (!c || typeof c !== 'object') return { kind: 'unknown', label: 'Reachability unknown (update the helper)' };
  const mapping = map && map.state === 'mapped' && typeof map.external === 'string'
    ? `Router forwards ${displayText(map.external)} to us (${Object.hasOwn(METHODS, String(map.method)) ? METHODS[map.method] : 'port mapping'}).`
    : map && map.state === 'failed'
      ? 'No router mapped our port.'
      : map && map.state === 'off'
        ? 'Port mapping is off.'
        : 'Looking for a router to map our port.';
  const n = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);
  if (c.state === 'yes') {
    return { kind: 'yes', label: `Connectable: ${n(c.incoming_internet)} peers from the internet connected to us. ${mapping}` };
  }
  if (typeof c.warning === 'string' && Object.hasOwn(WARNINGS, c.warning)) {
    const minutes = Math.floor(n(c.up_secs) / 60);
    return { kind: 'warn', label: `No peer from the internet has reached us in ${minutes} minutes: ${WARNINGS[c.warning]} ${mapping}` };
  }
  if (c.state === 'lan_only') {
    return { kind: 'lan', label: `Reachable on the LAN only (${n(c.incoming_lan)} peers); none from the internet yet. ${mapping}` };
  }
  if (map && map.state === 'mapped') {
    return { kind: 'mapped', label: `No peer has connected yet. ${mapping}` };
  }
  return { kind: 'no', label: `No peer has connected to us yet: downloads work, but peers behind a NAT cannot reach us. ${mapping}` };
}
