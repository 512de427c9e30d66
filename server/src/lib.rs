//! nameplate: the binary's library half, so that tests and the fuzz target
//! can drive the same code the binary runs.
//!
//! - [`authority`]: the DNS side's view of the catalog and the API's write
//!   path (TSIG keys, transfer rights, UPDATE).
//! - [`config`]: the embedded default and overrides.
//! - [`dns`]: the DNS wire side (listeners, the answer path).
//! - [`seed`]: the platform zone created on first start.
//! - [`serve`]: wiring for `nameplate serve`.

pub mod authority;
pub mod config;
pub mod dns;
pub mod https;
pub mod seed;
pub mod serve;
