#!/usr/bin/env bash
# `make run`: the whole system on this machine. A hub on 127.0.0.1:8780 (database in HUB_DIR,
# its phone page public there), a kiosk in STATE_DIR enrolled with it, the demo roster on both
# (the hub's is the hall's: the kiosk follows it), a demo admin login for the hub's pages. The
# kiosk daemon runs in the foreground; Ctrl-C stops both. A second run reuses everything.
#
#   scripts/demo.sh BIN_DIR STATE_DIR HUB_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1 state=$2 hubdir=$3
hub_url=http://127.0.0.1:8780
hall=演示大厅
admin=demo admin_password=pingjia-demo

export PINGJIA_STATE_DIR="$state" PINGJIA_HUB_DB="$hubdir/hub.db"
unset PINGJIA_CONFIG
mkdir -p "$hubdir"

"$bin/pingjia-hub" serve --port 8780 --public-url "$hub_url" 2> "$hubdir/hub.log" &
hub_pid=$!
trap 'kill "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening=" "$hubdir/hub.log" && break
  kill -0 "$hub_pid" 2>/dev/null || { cat "$hubdir/hub.log" >&2; echo "the hub did not start (is port 8780 taken?)" >&2; exit 1; }
  sleep 0.1
done

# The kiosk: state, photos, the demo hall's config (copied each run), the roster.
"$bin/pingjia" init
mkdir -p "$state/photos" && cp demo/photos/*.png "$state/photos/"
cp demo/hall.toml "$state/pingjia.toml"
"$bin/pingjia" roster import demo/roster.csv >/dev/null
# The hub holds the hall's roster (with photos for the phone page); unchanged on a second run.
"$bin/pingjia-hub" roster import --hall "$hall" demo/roster.csv --photos demo/photos >/dev/null
if [ ! -f "$state/sync/enrollment.json" ]; then
  code=$("$bin/pingjia-hub" devices add --hall "$hall" --name 演示评价器 2>/dev/null)
  "$bin/pingjia" enroll --hub "$hub_url" --code "$code"
fi
if ! "$bin/pingjia-hub" users list | cut -f1 | grep -qx "$admin"; then
  printf '%s\n' "$admin_password" | "$bin/pingjia-hub" users add "$admin" --role manager --hall "$hall" >/dev/null
fi

device=$(cat "$state/device-id")
echo
echo "Rating link of 张三 (A1023), as a phone scans it from window 3's display:"
"$bin/pingjia" qr --staff A1023
cat <<TEXT
Window displays:  http://127.0.0.1:8080/display/3  (张三, open: every press counts)
                  http://127.0.0.1:8080/display/4  (李四, armed: arm a session first)
Touch rating page (all-in-one kiosk): http://127.0.0.1:8080/touch/3
Phone page (what the QR codes open):  $hub_url/r/$device/A1023
Hub admin (差评 cases, reports):       $hub_url/admin   user $admin, password $admin_password
Try in another terminal:  $bin/pingjia rate --staff A1023 --level 4 --state-dir $state
                          $bin/pingjia outbox status --state-dir $state
                          $bin/pingjia-hub report --from $(date +%F) --to $(date +%F) --db $hubdir/hub.db
Hub log: $hubdir/hub.log.  Ctrl-C stops the kiosk and the hub.

TEXT
"$bin/pingjiad"
