//! End-to-end tests: the real `papertrader` binary, as separate processes.

mod cluster;
mod edges;
mod failover;
mod hygiene;
mod identities;
mod orders;
mod outcome;
mod readme;
mod stalled;
mod startup;
mod stdout;
mod streams;
mod support;
mod tui;
mod up;
mod usage;
