#!/usr/bin/env bash
# Installs the Debian packages of `make deb` on this machine and checks them as an installer and a
# hub operator would meet them, then upgrades, removes and purges them and checks what is left.
#
#   scripts/deb-test.sh DIR      (DIR holds pingjia_*.deb and pingjia-hub_*.deb)
#
# Needs root. Refuses to run where pingjia or pingjia-hub is installed already, and purges both
# at the end whatever happened, so the machine is left as it was. systemd need not be running
# (containers, CI): the units are checked with systemd-analyze, and the daemons are started from
# /usr/bin by hand, as the units would start them.
set -euo pipefail
dir=${1:?usage: $0 DIR-WITH-DEBS}
[ "$(id -u)" = 0 ] || { echo "deb-test: run as root (it installs packages)" >&2; exit 1; }
kiosk_deb=$(ls "$dir"/pingjia_*.deb | tail -n 1)
hub_deb=$(ls "$dir"/pingjia-hub_*.deb | tail -n 1)
for p in pingjia pingjia-hub; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed\|config-files"; then
    echo "deb-test: $p is installed on this machine already; purge it first (dpkg --purge $p)" >&2
    exit 1
  fi
done

scratch=$(mktemp -d)
pids=()
step() { echo "== $*"; }
fail() { echo "deb-test: FAILED: $*" >&2; exit 1; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PINGJIA_FORCE_PURGE=1 dpkg --purge pingjia pingjia-hub >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
# Nothing of the developer's environment: the installed programs find their files themselves.
run() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# Started with `&`, `run` would be a subshell whose pid is not the program's: env execs the program.
clean_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)

step "lintian"
lintian --fail-on error,warning "$kiosk_deb" "$hub_deb"

step "Depends are computed Debian runtime libraries"
for deb in "$kiosk_deb" "$hub_deb"; do
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "$(basename "$deb"): $depends"
  for lib in libc6 libsqlite3-0; do [[ $depends == *"$lib"* ]] || fail "$deb does not depend on $lib"; done
done
depends=$(dpkg-deb -f "$kiosk_deb" Depends)
for lib in libqrencode4 libusb-1.0-0 libpng16-16; do [[ $depends == *"$lib"* ]] || fail "pingjia does not depend on $lib"; done

step "install (apt resolves Depends)"
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "$(realpath "$kiosk_deb")" "$(realpath "$hub_deb")"
version=$(dpkg-query -W -f='${Version}' pingjia)

step "the installed binaries run without the toolchain"
for binary in /usr/bin/pingjia /usr/bin/pingjiad /usr/bin/pingjia-hub; do
  if ldd "$binary" | grep -E "/opt/|not found|libswift|libFoundation"; then fail "$binary links outside Debian's libraries"; fi
done
run /usr/bin/pingjia version | tee "$scratch/version"
grep -qx "pingjia $version" "$scratch/version" || fail "pingjia version does not say $version"
run /usr/bin/pingjiad --help >/dev/null
run /usr/bin/pingjia-hub --help >/dev/null

step "installed files"
run /usr/bin/pingjia devices validate | tee "$scratch/validate"
grep -q "/usr/share/pingjia/devices" "$scratch/validate" || fail "devices validate did not read /usr/share/pingjia/devices"
run /usr/bin/pingjia scales >/dev/null
getent passwd pingjia >/dev/null || fail "systemd-sysusers did not create the user pingjia"
dpkg-query --control-show pingjia conffiles | grep -qx "/etc/pingjia/pingjia.toml.example" || fail "the example config is not a conffile"
dpkg-query --control-show pingjia-hub conffiles | grep -qx "/etc/default/pingjia-hub" || fail "/etc/default/pingjia-hub is not a conffile"
# Where debhelper puts units and rules (/lib on Debian 12, /usr/lib later): as dpkg lists them.
units=$(dpkg -L pingjia pingjia-hub | grep -E '/systemd/system/(pingjiad|pingjia-hub)\.service$')
rules=$(dpkg -L pingjia | grep -E '/udev/rules\.d/70-pingjia\.rules$') || fail "no udev rules"
test -f /usr/share/pingjia/hub/workflow.toml || fail "no hub/workflow.toml"
# shellcheck disable=SC2086
systemd-analyze verify $units
for unit in pingjiad pingjia-hub; do
  test -L "/etc/systemd/system/multi-user.target.wants/$unit.service" || fail "$unit.service is not enabled"
done
if [ -d /run/systemd/system ]; then
  ! systemctl is-active --quiet pingjiad || fail "pingjiad was started before the kiosk was set up"
fi

step "a hub and a kiosk from /usr/bin: setup, stickers, a rating synced"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
hub=http://127.0.0.1:$port
"${clean_env[@]}" /usr/bin/pingjia-hub serve --port "$port" --public-url "$hub" 2> "$scratch/hub.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening=" "$scratch/hub.log" && break; sleep 0.1; done
grep -q "listening=" "$scratch/hub.log" || { cat "$scratch/hub.log"; fail "the installed hub did not start"; }
test -f /var/lib/pingjia-hub/hub.db || fail "the hub's database is not in /var/lib/pingjia-hub (root's default)"
code=$(run /usr/bin/pingjia-hub devices add --hall 市民中心 --name 3号窗口评价器 2>/dev/null)
printf '工号,姓名,窗口\nA1023,张三,3\nA1024,李四,3\n' > "$scratch/staff.csv"
run /usr/bin/pingjia setup --non-interactive --hall 市民中心 --name 3号窗口评价器 --windows 3 --hub "$hub" --code "$code" \
  --roster "$scratch/staff.csv"
test -f /var/lib/pingjia/pingjia.toml || fail "setup did not use /var/lib/pingjia"
(cd "$scratch" && run /usr/bin/pingjia qr sheet --output stickers.svg)
grep -q "张三" "$scratch/stickers.svg" || fail "no sticker for 张三"
web=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^listen = \"127.0.0.1:8080\"/listen = \"127.0.0.1:$web\"/" /var/lib/pingjia/pingjia.toml
"${clean_env[@]}" /usr/bin/pingjiad 2> "$scratch/pingjiad.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "local web listening" "$scratch/pingjiad.log" && break; sleep 0.1; done
run /usr/bin/pingjia rate --staff A1023 --level 1
run /usr/bin/pingjia sync now --timeout 30
run /usr/bin/pingjia-hub devices list | tee "$scratch/devices"
# The daemon pushes too; give the two a few rounds to agree on the receipt.
for _ in $(seq 10); do
  run /usr/bin/pingjia outbox status --json | grep -q '"pending" *: *0' && break
  sleep 1; run /usr/bin/pingjia sync now --timeout 30 >/dev/null || true
done
run /usr/bin/pingjia outbox status --json | tee "$scratch/outbox" | grep -q '"pending" *: *0' || { cat "$scratch/outbox"; fail "the rating did not reach the hub"; }
run /usr/bin/pingjia selftest | tee "$scratch/selftest" || true
grep -q "✓ phone link" "$scratch/selftest" || fail "selftest did not open the phone link"
kill "${pids[1]}"; wait "${pids[1]}" || true

step "upgrade keeps the store and the config"
cp /var/lib/pingjia/pingjia.toml "$scratch/config-before"
count_before=$(run /usr/bin/pingjia outbox status --json | sed -n 's/.*"count" *: *\([0-9]*\).*/\1/p')
echo "# the hall's own note" >> /etc/pingjia/pingjia.toml.example
dpkg -i "$kiosk_deb" "$hub_deb"
cmp /var/lib/pingjia/pingjia.toml "$scratch/config-before" || fail "the upgrade changed the config"
grep -q "the hall's own note" /etc/pingjia/pingjia.toml.example || fail "the upgrade replaced a changed conffile"
count_after=$(run /usr/bin/pingjia outbox status --json | sed -n 's/.*"count" *: *\([0-9]*\).*/\1/p')
[ -n "$count_before" ] && [ "$count_before" = "$count_after" ] || fail "the upgrade lost ratings ($count_before before, $count_after after)"

step "remove keeps the state; purge refuses while ratings wait for the hub"
kill "${pids[0]}"; wait "${pids[0]}" || true
run /usr/bin/pingjia rate --staff A1024 --level 5   # the hub is down: this one waits
dpkg --remove pingjia pingjia-hub
test ! -e /usr/bin/pingjia || fail "remove left /usr/bin/pingjia"
test -f /var/lib/pingjia/pingjia.db || fail "remove deleted the store"
test -f /etc/pingjia/pingjia.toml.example || fail "remove deleted a conffile"
if dpkg --purge pingjia 2> "$scratch/purge.log"; then fail "purge went ahead with a rating waiting"; fi
cat "$scratch/purge.log"
grep -Eq "[1-9][0-9]* ratings not yet acknowledged" "$scratch/purge.log" || fail "the refusal does not give the count"
test -f /var/lib/pingjia/pingjia.db || fail "a refused purge deleted the store"
PINGJIA_FORCE_PURGE=1 dpkg --purge pingjia
dpkg --purge pingjia-hub

step "what is left after purge"
for path in /usr/bin/pingjia /usr/bin/pingjiad /usr/bin/pingjia-hub /usr/share/pingjia /etc/pingjia /etc/default/pingjia-hub \
            /var/lib/pingjia /var/lib/pingjia-hub "$rules" $units \
            /etc/systemd/system/multi-user.target.wants/pingjiad.service /etc/systemd/system/multi-user.target.wants/pingjia-hub.service; do
  if [ -e "$path" ] || [ -L "$path" ]; then fail "$path is left after purge"; fi
done
# The system user stays, as Debian policy asks (its files may remain elsewhere).
getent passwd pingjia >/dev/null && echo "left by design: the system user pingjia"
echo "deb-test: all checks passed ($version)"
