#!/usr/bin/env python3
"""Checks the extension zips release.sh copies into dist/ (used by scripts/check-dist.sh).

The Chrome Web Store refuses a manifest with a `key` (it assigns the id itself), so the store zip
must have none; the unpacked zip must keep the fixed key, or "Load unpacked" gives an id the
native-messaging host does not allow; Firefox needs browser_specific_settings.gecko.id, the id
the host's manifest allows.

Usage: check_zips.py DIST_DIR EXTENSION_IDS_JSON
"""
import glob
import json
import os
import sys
import zipfile


def manifest(path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad is not None:
            sys.exit(f"check_zips: {path}: {bad} is corrupt")
        return json.loads(z.read("manifest.json"))


def one(dist, pattern):
    found = glob.glob(os.path.join(dist, pattern))
    if len(found) != 1:
        sys.exit(f"check_zips: expected one {pattern} in {dist}, found {found}")
    return found[0]


def main():
    dist, ids_path = sys.argv[1], sys.argv[2]
    with open(ids_path) as f:
        ids = json.load(f)
    store = one(dist, "swarmlink-chromium-[0-9]*.zip")
    unpacked = one(dist, "swarmlink-chromium-unpacked-*.zip")
    firefox = one(dist, "swarmlink-firefox-*.zip")

    m = manifest(store)
    if "key" in m:
        sys.exit(f"check_zips: {store} has a manifest key; the Chrome Web Store refuses it")
    print(f"{os.path.basename(store)}: manifest_version {m['manifest_version']}, no key")

    m = manifest(unpacked)
    if m.get("key") != ids["chromium_manifest_key"]:
        sys.exit(f"check_zips: {unpacked} lacks the fixed key of manifests/extension-ids.json")
    print(f"{os.path.basename(unpacked)}: the fixed key")

    m = manifest(firefox)
    gecko = m.get("browser_specific_settings", {}).get("gecko", {})
    if gecko.get("id") != ids["firefox_addon_id"]:
        sys.exit(f"check_zips: {firefox}: browser_specific_settings.gecko.id is {gecko.get('id')!r}")
    print(f"{os.path.basename(firefox)}: browser_specific_settings.gecko.id {gecko['id']}")


if __name__ == "__main__":
    main()
