//! Worker integration tests: a real master, real workers, real TCP, OpenPGP admission.

mod admission;
mod cluster;
mod failover;
mod identities;
mod ops;
mod passthrough;
mod restart;
mod sessions;
mod slots;
mod streams;
mod support;
mod tls;
