# The two commands of the README: `make run` and `make test`.
# Both install the Debian packages they need first (.ci/install-deps).

CARGO ?= cargo

.PHONY: deps run test ci bench

deps:
	.ci/install-deps

# The kiosk on the simulated board with the demo district.
run: deps
	$(CARGO) build --bin microclass
	./target/debug/microclass run --board sim --demo

# The whole test suite.
test: deps
	$(CARGO) test --no-fail-fast

# Everything CI checks (the test suite first).
ci:
	.ci/run

bench:
	$(CARGO) run --release --bin microclass -- bench core
