# Pingjia: the two commands a newcomer needs are `make run` and `make test`.
#
#   make deps      install the Debian packages building and running need (only those missing)
#   make test-deps the same plus everything the tests need (browsers, emulators, PostgreSQL, …)
#   make build     debug build of pingjiad, pingjia and pingjia-hub
#   make release   optimised build (.build/release)
#   make run       deps + build, then the whole demo: a hub on 127.0.0.1:8780 (./.pingjia-hub) and a
#                  kiosk enrolled with it (./.pingjia, two windows, roster with photos), pingjiad in
#                  the foreground; Ctrl-C stops both
#   make run-hub   deps + build, then a hub on 127.0.0.1:8780 with its database in ./.pingjia-hub
#   make run-hub-pg  the same hub on PostgreSQL: a local cluster in ./.pingjia-hub-pg, started for you
#   make test      test-deps + the whole test suite; the hub suite runs on SQLite and on a throwaway
#                  PostgreSQL (scripts/with-postgres.sh); PINGJIA_TEST_POSTGRES=0 skips the PostgreSQL leg;
#                  the torture campaigns run short; then 10 s of each fuzz target
#   make deb       pingjia_<version>_<arch>.deb and pingjia-hub_<version>_<arch>.deb in .build-deb/
#                  (release build with the Swift runtime linked in, kept in .build-release/)
#   make deb-test  make deb, then install, upgrade, remove and purge them on this machine (root)
#   make torture   the crash and fault campaigns in full: 100 kill -9, disk full, 50 power-cut copies
#   make bench     benchmarks against C baselines -> Benchmarks/results/<UTC time>.md (release build, long)
#   make fuzz      run each libFuzzer target for FUZZ_SECONDS (default 60) over its seed corpus
#   make clean     remove build products and the demo state

SWIFT     ?= swift
STATE_DIR ?= $(CURDIR)/.pingjia
HUB_DIR   ?= $(CURDIR)/.pingjia-hub
HUB_PG_DIR ?= $(CURDIR)/.pingjia-hub-pg
BIN       := $(CURDIR)/.build/debug

# Build and run: C libraries for QR, PNG, USB, SQLite (`make run` needs no more).
RUN_PACKAGES := pkg-config libqrencode-dev libpng-dev libusb-1.0-0-dev libsqlite3-dev

# Tests: zbarimg decodes our QR codes, rsvg-convert
# renders our SVG, sqlite3 tampers with a store, strace proves each commit is synced to disk,
# umockdev (+ its GObject bindings for the Python emulator) plays USB keypads to real libusb.
# Headless chromium + chromedriver (driven by selenium from PyPI, Tests/Fixtures/browser) test the
# display and touch pages; a CJK font by name, or Chinese renders as boxes in their screenshots.
# systemd-analyze rates the hardening of our units; gcc builds the C benchmark baselines and the
# ENOSPC shim of the disk-full campaign. postgresql: the hub's PostgreSQL backend is tested
# against a real server (scripts/with-postgres.sh), and make run-hub-pg runs on it. iproute2: a
# test adds an address to loopback to see the kiosk's netlink watcher wake sync. rsvg-convert
# turns `pingjia qr sheet` into PDF, with CJK glyphs from fonts-wqy-microhei; tests render those
# pages back with pdftoppm (poppler-utils). dpkg-dev, debhelper, fakeroot and lintian build and
# check the Debian packages (make deb, make deb-test).
TEST_PACKAGES := sqlite3 zbar-tools librsvg2-bin strace poppler-utils \
                 umockdev libumockdev0 gir1.2-umockdev-1.0 python3 python3-gi python3-pip \
                 chromium chromium-driver fonts-wqy-microhei systemd gcc postgresql iproute2 \
                 dpkg-dev debhelper fakeroot lintian
DEB_PACKAGES := $(RUN_PACKAGES) $(TEST_PACKAGES)

FUZZ_TARGETS := FuzzScale FuzzConfig FuzzRoster FuzzProfile FuzzReports FuzzBatch FuzzQRToken
FUZZ_SECONDS ?= 60

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps test-deps print-deps build release run run-hub run-hub-pg test deb deb-test torture bench fuzz clean

print-deps:
	@echo $(DEB_PACKAGES)

# Installs the missing ones of PACKAGES.
define apt_install_missing
	@missing=""; for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 $$missing; \
	fi
endef

deps:
	$(call apt_install_missing,$(RUN_PACKAGES))

test-deps:
	$(call apt_install_missing,$(DEB_PACKAGES))
	@python3 -c 'import selenium' 2>/dev/null || { echo "Installing selenium (PyPI)"; \
	  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet selenium; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The whole demo (scripts/demo.sh): a hub and a kiosk enrolled with it, sharing the demo roster.
# The demo hall (demo/hall.toml): window 3 open (every press counts), window 4 armed (a press
# counts in a session armed by the local API). Photos are small committed PNGs in demo/photos.
# A second run reuses the state, the enrollment and the build.
run: build
	@scripts/demo.sh "$(BIN)" "$(STATE_DIR)" "$(HUB_DIR)"

# A local hub for the demo kiosk. In another terminal:
#   .build/debug/pingjia-hub devices add --hall 演示大厅 --name 1号窗口 --db .pingjia-hub/hub.db
#   .build/debug/pingjia enroll --hub http://127.0.0.1:8780 --code CODE --state-dir .pingjia
run-hub: build
	@echo "Register the demo kiosk:  $(BIN)/pingjia-hub devices add --hall 演示大厅 --name 1号窗口 --db $(HUB_DIR)/hub.db"
	@echo "then:                     $(BIN)/pingjia enroll --hub http://127.0.0.1:8780 --code CODE --state-dir $(STATE_DIR)"
	@echo "Admin pages (差评 cases, reports): http://127.0.0.1:8780/admin after"
	@echo "                          $(BIN)/pingjia-hub users add admin --role auditor --db $(HUB_DIR)/hub.db"
	@echo "Stop the hub with Ctrl-C."; echo
	@exec $(BIN)/pingjia-hub serve --db "$(HUB_DIR)/hub.db" --public-url http://127.0.0.1:8780

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
	  $(BIN)/pingjia-hub serve --db "$(HUB_PG_URL)" --key "$(HUB_PG_DIR)/hub.key" --public-url http://127.0.0.1:8780

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
test: test-deps
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
torture: test-deps
	$(SWIFT) build --build-tests
	PINGJIA_TORTURE_KILLS=$(TORTURE_KILLS) PINGJIA_TORTURE_COPIES=$(TORTURE_COPIES) \
	  $(SWIFT) test --skip-build --filter 'TortureTests|kill9AtRandomPoints|aFullDisk|storeCopiesTakenMidWrite'

# Benchmarks/ is a package of its own (ordo-one/package-benchmark); run.py builds it in release,
# runs the C baselines of Benchmarks/baselines in the same run and writes the result file.
bench: test-deps
	Benchmarks/run.py

# Debian packages (debian/): debhelper builds both from the release build in .build-release,
# which is kept between runs (a clean release build takes many minutes).
deb: test-deps
	debian/rules clean
	debian/rules binary
	@ls -1 .build-deb/*.deb

# Installs the packages built by `make deb` on this machine with dpkg, checks what an installer
# and the hub's operator get, then upgrades, removes and purges them (scripts/deb-test.sh). Not part
# of `make test`: it needs root, installs into /usr, /etc and /var/lib, and refuses to run where
# Pingjia is installed already; .ci/run calls it after `make test` on the CI machine.
deb-test: deb
	scripts/deb-test.sh .build-deb

fuzz: test-deps
	@for t in $(FUZZ_TARGETS); do scripts/fuzz.sh $$t $(FUZZ_SECONDS) || exit 1; done

clean:
	@[ ! -f "$(HUB_PG_DIR)/data/postmaster.pid" ] || scripts/local-postgres.sh stop "$(HUB_PG_DIR)"
	rm -rf .build .build-fuzz .build-release .build-deb Benchmarks/.build "$(STATE_DIR)" "$(HUB_DIR)" "$(HUB_PG_DIR)"
