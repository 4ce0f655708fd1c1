//! Library tests against the real kernel. They run inside the lab guest
//! (`tests/lab/run --suite library`), never on the host: the host kernel has
//! no IPVS. Each test works in a network namespace of its own (IPVS tables
//! are per namespace), so tests do not see each other's services.

mod netns;
#[path = "../rng/mod.rs"]
mod rng;
#[path = "../tables/mod.rs"]
mod tables;

mod batch;
mod daemon;
mod errors;
mod operations;
mod plan;
mod snapshot;
mod transport;

pub use netns::TestNet;
