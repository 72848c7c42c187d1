# Pingjia: the two commands a newcomer needs are `make run` and `make test`.
#
#   make deps      install the Debian packages the build and tests need (only those missing)
#   make build     debug build of pingjiad and pingjia
#   make release   optimised build (.build/release)
#   make run       deps + build, then a demo hall in ./.pingjia (two windows, roster with photos), pingjiad in the foreground
#   make run-hub   deps + build, then a hub on 127.0.0.1:8780 with its database in ./.pingjia-hub
#   make run-hub-pg  the same hub on PostgreSQL: a local cluster in ./.pingjia-hub-pg, started for you
#   make test      deps + the whole test suite; the hub suite runs on SQLite and on a throwaway
#                  PostgreSQL (scripts/with-postgres.sh); PINGJIA_TEST_POSTGRES=0 skips the PostgreSQL leg;
#                  the torture campaigns run short; then 10 s of each fuzz target
#   make torture   the crash and fault campaigns in full: 100 kill -9, disk full, 50 power-cut copies
#   make bench     benchmarks against C baselines -> Benchmarks/results/<UTC time>.md (release build, long)
#   make fuzz      run each libFuzzer target for FUZZ_SECONDS (default 60) over its seed corpus
#   make clean     remove build products and the demo state

SWIFT     ?= swift
STATE_DIR ?= $(CURDIR)/.pingjia
HUB_DIR   ?= $(CURDIR)/.pingjia-hub
HUB_PG_DIR ?= $(CURDIR)/.pingjia-hub-pg
BIN       := $(CURDIR)/.build/debug

# Build: C libraries for QR, PNG, USB, SQLite. Tests: zbarimg decodes our QR codes, rsvg-convert
# renders our SVG, sqlite3 tampers with a store, strace proves each commit is synced to disk,
# umockdev (+ its GObject bindings for the Python emulator) plays USB keypads to real libusb.
# Headless chromium + chromedriver (driven by selenium from PyPI, Tests/Fixtures/browser) test the
# display and touch pages; a CJK font by name, or Chinese renders as boxes in their screenshots.
# systemd-analyze rates the hardening of our units; gcc builds the C benchmark baselines and the
# ENOSPC shim of the disk-full campaign. postgresql: the hub's PostgreSQL backend is tested
# against a real server (scripts/with-postgres.sh), and make run-hub-pg runs on it. iproute2: a
# test adds an address to loopback to see the kiosk's netlink watcher wake sync. rsvg-convert
# turns `pingjia qr sheet` into PDF, with CJK glyphs from fonts-wqy-microhei; tests render those
# pages back with pdftoppm (poppler-utils).
DEB_PACKAGES := pkg-config libqrencode-dev libpng-dev libusb-1.0-0-dev libsqlite3-dev \
                sqlite3 zbar-tools librsvg2-bin strace poppler-utils \
                umockdev libumockdev0 gir1.2-umockdev-1.0 python3 python3-gi python3-pip \
                chromium chromium-driver fonts-wqy-microhei systemd gcc postgresql iproute2

FUZZ_TARGETS := FuzzScale FuzzConfig FuzzRoster FuzzProfile FuzzReports FuzzBatch FuzzQRToken
FUZZ_SECONDS ?= 60

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps print-deps build release run run-hub run-hub-pg test torture bench fuzz clean

print-deps:
	@echo $(DEB_PACKAGES)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 $$missing; \
	fi
	@python3 -c 'import selenium' 2>/dev/null || { echo "Installing selenium (PyPI)"; \
	  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet selenium; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The demo hall (demo/hall.toml): window 3 open (every press counts), window 4 armed (a press
# counts in a session armed by the local API). Photos are small committed PNGs in demo/photos.
# A second run reuses the state and the build: init and the roster import change nothing.
run: build
	@$(BIN)/pingjia init --state-dir "$(STATE_DIR)"
	@mkdir -p "$(STATE_DIR)/photos" && cp demo/photos/*.png "$(STATE_DIR)/photos/"
	@cp demo/hall.toml "$(STATE_DIR)/pingjia.toml"
	@$(BIN)/pingjia roster import demo/roster.csv --state-dir "$(STATE_DIR)"
	@echo; echo "Rating link of 张三 (A1023), as a phone would scan it from a window display:"
	@$(BIN)/pingjia qr --staff A1023 --state-dir "$(STATE_DIR)"
	@echo "Window displays:  http://127.0.0.1:8080/display/3  (张三, open: every press counts)"
	@echo "                  http://127.0.0.1:8080/display/4  (李四, armed: arm a session first)"
	@echo "Touch rating page (all-in-one kiosk): http://127.0.0.1:8080/touch/3"
	@echo "Try in another terminal:  $(BIN)/pingjia rate --staff A1023 --level 1 --state-dir $(STATE_DIR)"
	@echo "                          curl -X POST -H 'Content-Type: application/json' -d '{\"staffId\":\"A1024\"}' http://127.0.0.1:8080/api/v1/windows/4/session"
	@echo "                          $(BIN)/pingjia staff pause --window 3 --state-dir $(STATE_DIR)"
	@echo "                          $(BIN)/pingjia outbox status --state-dir $(STATE_DIR)"
	@echo "Stop the daemon with Ctrl-C."; echo
	@exec $(BIN)/pingjiad --state-dir "$(STATE_DIR)"

# A local hub for the demo kiosk. In another terminal:
#   .build/debug/pingjia-hub devices add --hall 演示大厅 --name 1号窗口 --db .pingjia-hub/hub.db
#   .build/debug/pingjia enroll --hub http://127.0.0.1:8780 --code CODE --state-dir .pingjia
run-hub: build
	@echo "Register the demo kiosk:  $(BIN)/pingjia-hub devices add --hall 演示大厅 --name 1号窗口 --db $(HUB_DIR)/hub.db"
	@echo "then:                     $(BIN)/pingjia enroll --hub http://127.0.0.1:8780 --code CODE --state-dir $(STATE_DIR)"
	@echo "Admin pages (差评 cases, reports): http://127.0.0.1:8780/admin after"
	@echo "                          $(BIN)/pingjia-hub users add admin --role auditor --db $(HUB_DIR)/hub.db"
	@echo "Stop the hub with Ctrl-C."; echo
	@exec $(BIN)/pingjia-hub serve --db "$(HUB_DIR)/hub.db"

# The same hub on PostgreSQL, as a province runs it (several `serve` instances may share the
# database and the key). The cluster in $(HUB_PG_DIR) stops with the hub; its data stays.
HUB_PG_PORT ?= 5439
HUB_PG_URL  := postgres://pingjia@127.0.0.1:$(HUB_PG_PORT)/pingjia_hub
run-hub-pg: build
	@scripts/local-postgres.sh start "$(HUB_PG_DIR)" $(HUB_PG_PORT)
	@echo "Register the demo kiosk:  $(BIN)/pingjia-hub devices add --hall 演示大厅 --name 1号窗口 --db $(HUB_PG_URL)"
	@echo "then:                     $(BIN)/pingjia enroll --hub http://127.0.0.1:8780 --code CODE --state-dir $(STATE_DIR)"
	@echo "Stop the hub with Ctrl-C."; echo
	@trap 'scripts/local-postgres.sh stop "$(HUB_PG_DIR)"' EXIT; \
	  $(BIN)/pingjia-hub serve --db "$(HUB_PG_URL)" --key "$(HUB_PG_DIR)/hub.key"

# Three legs, because all suites share one process and Swift's cooperative pool (one thread per
# core). Many tests block a pool thread on purpose (waiting for a `pingjia` run, a commit's fsync,
# a libusb emulator), and beside them on a 2-core machine with a slow disk the tests that serve
# HTTP or drive devices in-process starve and time out. So: first the in-process servers and
# device managers (SERVING_SUITES), then the rest, then the suites that block a thread for minutes
# (an emulated keypad, a browser, running daemons, a hub whose database is taken away:
# BLOCKING_SUITES), each leg by itself.
SERVING_SUITES  := PingjiaSyncTests\.|PingjiaWebTests\.|PingjiaDevicesTests\.|PingjiaKioskTests\.
BLOCKING_SUITES := KeypadEmulatorTests|BrowserTests|FleetCLITests|RemoteConfigCLITests|StorageOutageTests
TEST_LEGS := $(SWIFT) test --skip-build --filter '$(SERVING_SUITES)' --skip '$(BLOCKING_SUITES)' && \
             $(SWIFT) test --skip-build --skip '$(SERVING_SUITES)|$(BLOCKING_SUITES)' && \
             $(SWIFT) test --skip-build --filter '$(BLOCKING_SUITES)'

# A PostgreSQL leg that is skipped must not look like a pass: it is announced, loudly. After the
# suite, every fuzz target briefly (FUZZ_TEST_SECONDS each; the sanitizer build in .build-fuzz is
# what costs time the first time, see Tests/Fuzz/README.md).
FUZZ_TEST_SECONDS ?= 10
test: deps
	$(SWIFT) build --build-tests
	@if [ "$$PINGJIA_TEST_POSTGRES" = 0 ]; then \
	  echo "################################################################################"; \
	  echo "## PINGJIA_TEST_POSTGRES=0: the hub tests run on SQLite ONLY.                 ##"; \
	  echo "## The PostgreSQL backend is NOT tested in this run.                          ##"; \
	  echo "################################################################################"; \
	  $(TEST_LEGS); \
	else \
	  scripts/with-postgres.sh sh -c "$(TEST_LEGS)"; \
	fi
	@for t in $(FUZZ_TARGETS); do scripts/fuzz.sh $$t $(FUZZ_TEST_SECONDS) || exit 1; done

# `make test` runs the same campaigns in a short form (5 kills, 4 copies).
TORTURE_KILLS  ?= 100
TORTURE_COPIES ?= 50
torture: deps
	$(SWIFT) build --build-tests
	PINGJIA_TORTURE_KILLS=$(TORTURE_KILLS) PINGJIA_TORTURE_COPIES=$(TORTURE_COPIES) \
	  $(SWIFT) test --skip-build --filter 'TortureTests|kill9AtRandomPoints|aFullDisk|storeCopiesTakenMidWrite'

# Benchmarks/ is a package of its own (ordo-one/package-benchmark); run.py builds it in release,
# runs the C baselines of Benchmarks/baselines in the same run and writes the result file.
bench: deps
	Benchmarks/run.py

fuzz: deps
	@for t in $(FUZZ_TARGETS); do scripts/fuzz.sh $$t $(FUZZ_SECONDS) || exit 1; done

clean:
	@[ ! -f "$(HUB_PG_DIR)/data/postmaster.pid" ] || scripts/local-postgres.sh stop "$(HUB_PG_DIR)"
	rm -rf .build .build-fuzz Benchmarks/.build "$(STATE_DIR)" "$(HUB_DIR)" "$(HUB_PG_DIR)"
