//! End-to-end tests: the real `papertrader` binary, as separate processes.

mod cluster;
mod failover;
mod stdout;
mod support;
