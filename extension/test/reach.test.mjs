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
