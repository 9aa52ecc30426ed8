//! Placeholder until cr lands.
