# claude-remote: `just --list` shows every recipe with its comment.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list

# Run the relay from source on 127.0.0.1:7700 (args go to cr-server, e.g. `just serve --db x.db`)
serve *args:
    cargo run --release -p cr-server -- {{args}}

# Run cr from source (e.g. `just cr pair http://127.0.0.1:7700 CODE`, `just cr -- bash`)
cr *args:
    cargo run --release -p cr -- {{args}}

# Install cr and cr-server into ~/.cargo/bin
install:
    cargo install --locked --path crates/cli
    cargo install --locked --path crates/server

# Run every test: unit, relay integration, PTY, real-claude end to end, the mock API, and the page in Chromium
test:
    cargo test --workspace --locked
    node --test tests/claude/
    {{just_executable()}} test-browser

# Browser tests of the phone page: the real relay and cr, driven in headless Debian Chromium
test-browser:
    cargo build --locked -p cr-server -p cr
    cd tests/browser && { [ -d node_modules ] || npm ci --no-audit --no-fund --silent; } && npm test --silent

# Clippy on every target, warnings are errors
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Format the code
fmt:
    cargo fmt --all

# Check formatting without changing files
fmt-check:
    cargo fmt --all --check

# Build the API docs, warnings are errors
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Validate compose.yml, lint the Dockerfile, run the image's build and runtime commands
deploy-check:
    bash .ci/deploy-check

# Start the relay in Docker (loopback only); `just logs` shows the first login link
up:
    docker compose up -d --build

# Stop the Docker relay (the database volume stays)
down:
    docker compose down

# Follow the Docker relay's logs
logs:
    docker compose logs -f relay

# Benchmarks on release builds, results into BENCHMARKS.md (~20 min; e.g. `just bench --only store`)
bench *args:
    cargo build --release --locked -p cr -p cr-server -p cr-bench
    CR_BENCH_COMMAND="just bench {{args}}" ./target/release/cr-bench --write BENCHMARKS.md {{args}}

# Every benchmark on tiny inputs: checks that each runs and produces numbers, asserts no timings
bench-quick:
    cargo build --locked -p cr -p cr-server -p cr-bench
    ./target/debug/cr-bench --quick

# Exactly what CI runs after installing its tools (.ci/run)
ci: fmt-check lint doc test deploy-check bench-quick
