#!/usr/bin/env bash
# The service install, checked: `cmake --install` into a scratch DESTDIR (what `make install`
# runs), then the Debian package (what `make package` builds) installed with dpkg into a scratch
# root. Checks the files, the hardened unit, that every variable of the environment file is one
# `serve` reads, that the installed binary runs, and, where systemd-analyze exists, that it
# verifies the unit without a word. Usage: test-package.sh BUILD_DIR VERSION
set -euo pipefail
build=$(cd "$1" && pwd)
version=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "test-package: $*" >&2; exit 1; }

check_unit() {  # UNIT_FILE BINARY
  local unit=$1 binary=$2
  for line in "ExecStart=$binary serve" "EnvironmentFile=-/etc/consent-relay/consent-relay.env" \
              DynamicUser=yes ProtectSystem=strict StateDirectory=consent-relay NoNewPrivileges=yes \
              "CapabilityBoundingSet=" PrivateTmp=yes; do
    grep -qxF "$line" "$unit" || fail "$unit lacks '$line'"
  done
}

# `make install`: the unit names the binary under the prefix.
DESTDIR="$scratch/destdir" cmake --install "$build" --prefix /usr/local >/dev/null
for f in usr/local/bin/consent-relay usr/local/lib/systemd/system/consent-relay.service \
         etc/consent-relay/consent-relay.env; do
  [[ -e "$scratch/destdir/$f" ]] || fail "make install did not install /$f"
done
check_unit "$scratch/destdir/usr/local/lib/systemd/system/consent-relay.service" \
           /usr/local/bin/consent-relay

# `make package`: a .deb, installed with dpkg into a scratch root.
(cd "$build" && cpack -G DEB -B "$scratch/out" >/dev/null)
deb=$(ls "$scratch"/out/consent-relay_"$version"_*.deb) || fail "cpack made no package"
dpkg-deb -f "$deb" Package | grep -qx consent-relay || fail "the package is not consent-relay"
dpkg-deb -f "$deb" Depends | grep -q libsqlite3 || fail "the package lists no library dependency"
root="$scratch/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# The scratch root has no libraries installed: its dependencies are this machine's.
dpkg --root="$root" --log=/dev/null --force-depends --force-not-root -i "$deb" >/dev/null 2>&1 ||
  fail "dpkg could not install $deb"
dpkg --root="$root" -s consent-relay | grep -qx "Status: install ok installed" ||
  fail "dpkg does not list the package as installed"
for f in usr/bin/consent-relay usr/lib/systemd/system/consent-relay.service \
         etc/consent-relay/consent-relay.env; do
  [[ -e "$root/$f" ]] || fail "the package did not install /$f"
done
grep -qxF /etc/consent-relay/consent-relay.env "$root/var/lib/dpkg/info/consent-relay.conffiles" ||
  fail "the environment file is not a conffile (an upgrade would overwrite the admin's edits)"
[[ $(stat -c %a "$root/etc/consent-relay/consent-relay.env") == 640 ]] ||
  fail "the environment file (it may hold a database password) is not 0640"
check_unit "$root/usr/lib/systemd/system/consent-relay.service" /usr/bin/consent-relay

installed="$root/usr/bin/consent-relay"
[[ $("$installed" --version) == "$version" ]] || fail "consent-relay --version is not $version"
help=$("$installed" serve --help)
for var in $(grep -oE 'CONSENT_RELAY_[A-Z_]+' "$root/etc/consent-relay/consent-relay.env" | sort -u); do
  [[ $var == CONSENT_RELAY_DATA_DIR ]] && continue  # set by the unit
  grep -q "$var" <<<"$help" || fail "the environment file names $var, which serve does not read"
done

if command -v systemd-analyze >/dev/null; then
  # Verified as installed, but pointing at the installed binary inside the scratch root.
  sed "s#=/usr/bin/consent-relay#=$installed#" "$root/usr/lib/systemd/system/consent-relay.service" \
    >"$scratch/consent-relay.service"
  out=$(systemd-analyze verify --man=no "$scratch/consent-relay.service" 2>&1) ||
    fail "systemd-analyze verify failed: $out"
  [[ -z "$out" ]] || fail "systemd-analyze verify complained: $out"
  echo "test-package: systemd-analyze verify: clean"
else
  echo "test-package: systemd-analyze is not installed here; the unit was not verified"
fi
echo "test-package: ok ($(basename "$deb"))"
