# rvs — the Rust Virtual Server.  `make test` runs every test; benches and fuzzing stay out of CI.
CARGO ?= cargo
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
LEGACYDIR ?= $(PREFIX)/libexec/initscripts/legacy-actions
FUZZ_SECONDS ?= 600

.PHONY: test deps demo bench-e2e bench-vrrp fuzz-decap fuzz-keepalived build bench-engine bench-restore fuzz-wire fuzz-vrrp fuzz-engine fuzz-replay fmt install

build:
	$(CARGO) build --workspace

# Every test: unit, property, fixture tables, behaviour, the replay of the committed fuzz
# corpora through the fuzz targets' bodies (plain cargo test, no nightly needed), and the
# end-to-end tests with real packets in network namespaces (root; they fail, never skip,
# without it). deps.sh installs the Debian packages they use (clang for the XDP program,
# nginx, curl, ab, wrk, nftables, ethtool...); the binaries are built first because the
# end-to-end tests of one crate run the binaries of others.
test: deps
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

deps:
	scripts/deps.sh

# A director and three real servers in network namespaces, configured with seed 001's
# ipvsadm commands; prints the listing and each real server's share, then cleans up (root).
demo:
	scripts/demo.sh

# rvs (AF_XDP, AF_PACKET) against nftables DNAT, HAProxy and the direct path, one run.
bench-e2e:
	scripts/bench-e2e.sh

# VRRP failover gaps (rvs against keepalived in the same run) and the advert send jitter
# under forwarding load, in the two-director lab (root).
bench-vrrp:
	scripts/bench-vrrp.sh

fuzz-replay:
	$(CARGO) test -p rvs-engine --test fuzz_replay
	$(CARGO) test -p rvs-wire --test no_panic
	$(CARGO) test -p rvs-wire --test fuzz_vrrp

bench-engine:
	$(CARGO) bench -p rvs-engine --bench engine

bench-restore:
	scripts/bench-restore.sh

fuzz-wire:
	cd fuzz && $(CARGO) +nightly fuzz run wire -- -max_total_time=$(FUZZ_SECONDS)

fuzz-vrrp:
	cd fuzz && $(CARGO) +nightly fuzz run vrrp -- -max_total_time=$(FUZZ_SECONDS)

fuzz-engine:
	cd fuzz && $(CARGO) +nightly fuzz run engine -- -max_total_time=$(FUZZ_SECONDS)

fuzz-decap:
	cd fuzz && $(CARGO) +nightly fuzz run decap -- -max_total_time=$(FUZZ_SECONDS)

fuzz-keepalived:
	cd fuzz && $(CARGO) +nightly fuzz run keepalived -- -max_total_time=$(FUZZ_SECONDS)

fmt:
	$(CARGO) fmt --all

# rvsd, rvsadm, and the ipvsadm names the seeds' scripts call (argv[0] selects the behaviour);
# the man pages, the systemd units and `service ipvsadm save`'s legacy action. The units and
# the action call /usr/local/sbin/...: with another PREFIX, edit their paths.
install:
	$(CARGO) build --release -p rvs
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 target/release/rvsd target/release/rvsadm $(DESTDIR)$(SBINDIR)/
	for n in ipvsadm ipvsadm-save ipvsadm-restore; do ln -sf rvsadm $(DESTDIR)$(SBINDIR)/$$n; done
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(LEGACYDIR)/ipvsadm
	install -m 0644 doc/rvsadm.8 doc/rvsd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 dist/systemd/rvsd.service dist/systemd/ipvsadm.service $(DESTDIR)$(UNITDIR)/
	install -m 0755 dist/legacy-actions/ipvsadm/save $(DESTDIR)$(LEGACYDIR)/ipvsadm/
