# The two commands of the README: `make run` and `make test`.
# Both install the Debian packages they need first (.ci/install-deps).

CARGO ?= cargo

.PHONY: deps run test ci bench

deps:
	.ci/install-deps

# The kiosk on the simulated board with the demo district, with its screen:
# a window on a desktop (X11/Wayland), headless (software renderer) with no
# display; the headless kiosk prints how to take a screenshot. Override with
# `make run UI=linuxkms` (Pi console) or `UI_SIZE=1280x800`.
UI ?= $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY)),winit,headless)
UI_SIZE ?= 800x480
run: deps
	$(CARGO) build --bin microclass
	./target/debug/microclass run --board sim --demo --ui $(UI) --ui-size $(UI_SIZE)

# The whole test suite.
test: deps
	$(CARGO) test --workspace --no-fail-fast

# Everything CI checks (the test suite first).
ci:
	.ci/run

bench:
	$(CARGO) run --release --bin microclass -- bench core
