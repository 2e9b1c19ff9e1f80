import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reachability } from '../src/lib/reach.js';

const hello = (connectable, portMapping) => ({ connectable, port_mapping: portMapping });

test('a connection from the internet makes us connectable', () => {
  const r = reachability(hello({ state: 'yes', incoming_lan: 0, incoming_internet: 3 },
    { state: 'mapped', method: 'natpmp', external: '44.1.2.3:6881' }));
  assert.equal(r.kind, 'yes');
  assert.match(r.label, /3 peers from the internet/);
  assert.match(r.label, /44\.1\.2\.3:6881 to us \(NAT-PMP\)/);
});

test('LAN only, mapped but unvisited, and nothing at all are told apart', () => {
  assert.equal(reachability(hello({ state: 'lan_only', incoming_lan: 2, incoming_internet: 0 }, { state: 'failed' })).kind, 'lan');
  assert.equal(reachability(hello({ state: 'not_yet' }, { state: 'mapped', method: 'upnp', external: '1.2.3.4:5' })).kind, 'mapped');
  const none = reachability(hello({ state: 'not_yet' }, { state: 'off' }));
  assert.equal(none.kind, 'no');
  assert.match(none.label, /Port mapping is off/);
  assert.equal(reachability({ version: '0.1.0' }).kind, 'unknown');
  assert.equal(reachability(null).kind, 'unknown');
});

test('text from the LAN is shown escaped', () => {
  const r = reachability(hello({ state: 'not_yet' }, { state: 'mapped', method: 'upnp', external: '1.2.3.4:5\u202e' }));
  assert.ok(!r.label.includes('\u202e'));
});

test('after minutes without a peer from the internet the helper warns, with the likely cause', () => {
  const unmapped = reachability(hello({ state: 'not_yet', up_secs: 660, warning: 'no_mapping' }, { state: 'failed' }));
  assert.equal(unmapped.kind, 'warn');
  assert.match(unmapped.label, /in 11 minutes: the router forwards no port to us/);
  const walled = reachability(hello({ state: 'lan_only', incoming_lan: 1, up_secs: 600, warning: 'firewall' },
    { state: 'mapped', method: 'pcp', external: '44.1.2.3:6881' }));
  assert.equal(walled.kind, 'warn');
  assert.match(walled.label, /a firewall on this computer/);
  assert.match(walled.label, /\(PCP\)/);
  // A word this popup does not know, or a prototype's name, is no warning.
  assert.equal(reachability(hello({ state: 'not_yet', warning: 'constructor' }, { state: 'off' })).kind, 'no');
  assert.equal(reachability(hello({ state: 'not_yet' }, { state: 'mapped', method: '__proto__', external: '1.2.3.4:5' })).label.includes('(port mapping)'), true);
});
