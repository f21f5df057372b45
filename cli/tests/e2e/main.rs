//! End-to-end tests: the real `papertrader` binary, as separate processes.

mod cluster;
mod failover;
mod outcome;
mod stalled;
mod startup;
mod stdout;
mod support;
