# claude-remote: `just --list` shows every recipe with its comment.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list

# Run every test: unit, relay integration, PTY and real-claude end to end
test:
    cargo test --workspace --locked

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

# Exactly what CI runs after installing its tools (.ci/run)
ci: fmt-check lint doc test
