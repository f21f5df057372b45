//! The request metrics every connection records, when its server has an ops endpoint:
//! `papertrader_requests_total{server, instruction, outcome}` (outcome `ok`, or the reason code
//! of the Fail reply), `papertrader_request_seconds{server, instruction}` (from the request's
//! arrival to its first reply frame) and `papertrader_connections{server}` (open now).

use std::time::Instant;

use papertrader_protocol::header::RawHeader;
use papertrader_protocol::{Instruction, ReasonCode, HEADER_LEN};

use crate::reply::Reply;

/// Whose metrics: the `server` label (`master`, a worker's name). `Copy`, so it rides in
/// [`crate::connection::ConnectionLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLabel(pub &'static str);

impl ServerLabel {
    /// The label of the server named `name` (kept for the life of the process: one per server
    /// started).
    pub fn new(name: &str) -> Self {
        Self(Box::leak(name.to_owned().into_boxed_str()))
    }

    fn value(&self) -> &'static str {
        self.0
    }

    /// One more (or one fewer) open connection.
    pub fn connection_opened(&self, opened: bool) {
        let gauge = metrics::gauge!("papertrader_connections", "server" => self.value());
        if opened {
            gauge.increment(1.0);
        } else {
            gauge.decrement(1.0);
        }
    }
}

/// A request being answered.
#[derive(Debug)]
pub struct RequestTimer {
    server: ServerLabel,
    instruction: &'static str,
    started: Instant,
}

impl RequestTimer {
    /// Starts timing a request of `instruction`.
    pub fn start(server: &ServerLabel, instruction: Instruction, started: Instant) -> Self {
        Self {
            server: *server,
            instruction: instruction.name(),
            started,
        }
    }

    /// The request's first reply is out: counts it with its outcome.
    pub fn finish(self, first_reply: &Reply) {
        let server = self.server.value();
        metrics::counter!("papertrader_requests_total",
            "server" => server, "instruction" => self.instruction,
            "outcome" => outcome(first_reply))
        .increment(1);
        metrics::histogram!("papertrader_request_seconds",
            "server" => server, "instruction" => self.instruction)
        .record(self.started.elapsed().as_secs_f64());
    }
}

/// `ok`, or the reason code name of a Fail reply.
fn outcome(reply: &Reply) -> &'static str {
    let failure = match reply {
        Reply::Message(message) => message.failure().map(|f| f.code),
        Reply::Frame(frame) => RawHeader::read(frame)
            .and_then(|raw| Instruction::from_u16(raw.instruction))
            .filter(|i| i.is_failure())
            .and_then(|_| frame.get(HEADER_LEN..HEADER_LEN + 2))
            .and_then(|code| ReasonCode::from_u16(u16::from_be_bytes([code[0], code[1]]))),
    };
    failure.map_or("ok", ReasonCode::name)
}
