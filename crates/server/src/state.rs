//! `AppState`: what every handler and task shares, built once in [`crate::serve`].

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::config::{IpNet, PublicUrl};
use crate::hub::Hub;
use crate::ratelimit::FailureLimiter;
use crate::store::Store;

/// The relay's shared state.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Live fan-out and links.
    pub hub: Arc<Hub>,
    /// Where phones reach the relay: login links, the allowed Origin, the cookie's Secure flag.
    pub public_url: PublicUrl,
    /// Failed pairing and login attempts per address. A std mutex: held for a map lookup,
    /// never across an await.
    pub limiter: Mutex<FailureLimiter>,
    /// Turns true when the relay shuts down; feeds and links end.
    pub shutdown: watch::Receiver<bool>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;

impl AppState {
    /// State around an opened store.
    pub fn new(store: Store, public_url: PublicUrl, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            store,
            hub: Arc::new(Hub::default()),
            public_url,
            limiter: Mutex::default(),
            shutdown,
            trusted_proxies: Vec::new(),
        }
    }

    /// Believes `X-Forwarded-For` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpNet>) -> Self {
        self.trusted_proxies = proxies;
        self
    }
}
