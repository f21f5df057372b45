//! End-to-end tests: the real `papertrader` binary, as separate processes.

mod cluster;
mod failover;
mod hygiene;
mod outcome;
mod stalled;
mod startup;
mod stdout;
mod support;
