//! Placeholder until the relay lands.
