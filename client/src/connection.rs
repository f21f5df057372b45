//! One protocol connection: send a request, read its complete reply (reassembling `data`
//! transfers), in order.

use crate::tls::{host_of, parse_address, ClientTls, PeerStream};
use futures::{SinkExt, StreamExt};
use papertrader_protocol::transfer::{Progress, Reassembler};
use papertrader_protocol::{DataBody, Failure, Message, MessageCodec, MessageType, ProtocolError};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_util::codec::Framed;

/// Which kind of server a connection was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The master (asked for the worker list).
    Master,
    /// A worker (serves clients).
    Worker,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Peer::Master => "master",
            Peer::Worker => "worker",
        })
    }
}

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection could be made to a server: it says which one, and where.
    #[error("cannot reach the {peer} at {address}: {source}")]
    Unreachable {
        /// Master or worker.
        peer: Peer,
        /// The address as given (`host:port`).
        address: String,
        /// Why (refused, timed out, no such host, …).
        source: std::io::Error,
    },
    /// The socket failed after the connection was made.
    #[error("the connection was lost: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent bytes that are not valid protocol.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server closed the connection before replying.
    #[error("the server closed the connection")]
    Closed,
    /// No frame arrived within the connection's timeout.
    #[error("no answer from the server within {0:?}")]
    TimedOut(std::time::Duration),
    /// The server answered with a Fail reply.
    #[error("{instruction} failed: {failure}")]
    Failed {
        /// The Fail reply's name (`loginFail`, `dataFail`, …).
        instruction: &'static str,
        /// Reason code and message.
        failure: Failure,
    },
    /// The server answered with something this request does not expect.
    #[error("unexpected reply {0}")]
    Unexpected(&'static str),
    /// TLS could not be set up with the server; the text says why (wrong CA, expired
    /// certificate, a plain port, no CA given for a `tls://` address).
    #[error("{0}")]
    Tls(String),
}

impl ClientError {
    /// The reason code of a Fail reply, if this is one.
    pub fn reason(&self) -> Option<papertrader_protocol::ReasonCode> {
        match self {
            ClientError::Failed { failure, .. } => Some(failure.code),
            _ => None,
        }
    }

    /// True when no server could be reached, or the connection to it was lost: nothing
    /// answered, as opposed to a server that answered with a refusal.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. }
                | ClientError::Io(_)
                | ClientError::Closed
                | ClientError::TimedOut(_)
        )
    }
}

/// How long [`Connection::receive`] waits for a frame by default. Generous: an order waits for
/// the next price tick, and a server answers a stalled request well within this.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long [`Connection::connect_to`] waits for a server to accept.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A connection to a master or worker.
pub struct Connection {
    framed: Framed<PeerStream, MessageCodec>,
    timeout: std::time::Duration,
    /// Pushes that arrived while a reply was awaited, oldest first.
    pushes: std::collections::VecDeque<Message>,
}

impl Connection {
    /// Connects (no time limit but the system's; see [`Connection::connect_to`]).
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        Self::from_stream(stream)
    }

    /// Connects to the `peer` at `address` within [`CONNECT_TIMEOUT`]; a failure is
    /// [`ClientError::Unreachable`], naming the peer and the address.
    pub async fn connect_to(peer: Peer, address: &str) -> Result<Self, ClientError> {
        Self::connect_with(peer, address, None).await
    }

    /// [`Connection::connect_to`] for an address that may be `tls://host:port`: TLS with
    /// `tls`'s CA (an error when the address asks for TLS and no CA was given).
    pub async fn connect_with(
        peer: Peer,
        address: &str,
        tls: Option<&ClientTls>,
    ) -> Result<Self, ClientError> {
        let (plain, wants_tls) = parse_address(address);
        if tls.is_some() && !wants_tls {
            // With a CA configured, a plain address is a mistake (or a downgrade someone
            // slipped into a worker list): never send a password hash or a session in clear.
            let source = match peer {
                Peer::Worker => {
                    " (an address from the master's worker list was registered without tls:// \
                     by the operator: `workers add --address tls://…`)"
                }
                Peer::Master => "",
            };
            return Err(ClientError::Tls(format!(
                "the {peer} address {address} is plain but a CA is configured: write it as \
                 tls://{address}, or leave out the CA (--ca-file, PAPERTRADER_CA_FILE) to connect \
                 without TLS{source}"
            )));
        }
        let unreachable = |source| ClientError::Unreachable {
            peer,
            address: address.to_owned(),
            source,
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(plain))
            .await
            .map_err(|_| unreachable(std::io::ErrorKind::TimedOut.into()))?
            .map_err(unreachable)?;
        if !wants_tls {
            return Self::from_stream(stream);
        }
        let tls = tls.ok_or_else(|| {
            ClientError::Tls(format!(
                "the {peer} at {address} requires TLS: give the deployment's CA certificate \
                 (--ca-file FILE or PAPERTRADER_CA_FILE)"
            ))
        })?;
        stream.set_nodelay(true)?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(host_of(plain), stream))
            .await
            .map_err(|_| ClientError::Tls(format!("TLS with {address} timed out")))?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Self::from_peer_stream(stream))
    }

    /// Wraps an already connected stream (for example one bound to a chosen local address).
    pub fn from_stream(stream: TcpStream) -> Result<Self, ClientError> {
        stream.set_nodelay(true)?;
        Ok(Self::from_peer_stream(Box::new(stream)))
    }

    /// Wraps a connected plain or TLS stream.
    pub fn from_peer_stream(stream: PeerStream) -> Self {
        Self {
            framed: Framed::new(stream, MessageCodec::default()),
            timeout: DEFAULT_TIMEOUT,
            pushes: std::collections::VecDeque::new(),
        }
    }

    /// Sends one message without waiting for a reply.
    pub async fn send(&mut self, message: &Message) -> Result<(), ClientError> {
        self.framed.send(message).await.map_err(from_codec)
    }

    /// Sets how long [`Connection::receive`] waits for each frame.
    pub fn set_timeout(&mut self, timeout: std::time::Duration) {
        self.timeout = timeout;
    }

    /// Reads the next reply, waiting at most the connection's timeout for each frame. Pushes
    /// (messageType 5) that come first are kept for [`Connection::next_push`]. A refused frame
    /// from the server is a protocol error.
    pub async fn receive(&mut self) -> Result<Message, ClientError> {
        loop {
            let message = self.read_frame(self.timeout).await?;
            if message.instruction().message_type() == MessageType::Push {
                self.pushes.push_back(message);
                continue;
            }
            return Ok(message);
        }
    }

    /// The next push: one that arrived while a reply was awaited, or the next frame within
    /// `wait` (`Ok(None)` when none came). A reply arriving here, with no request outstanding,
    /// is [`ClientError::Unexpected`].
    pub async fn next_push(
        &mut self,
        wait: std::time::Duration,
    ) -> Result<Option<Message>, ClientError> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(Some(push));
        }
        match self.read_frame(wait).await {
            Ok(message) if message.instruction().message_type() == MessageType::Push => {
                Ok(Some(message))
            }
            Ok(other) => Err(ClientError::Unexpected(other.instruction().name())),
            Err(ClientError::TimedOut(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The next frame of any kind (reply or push), waiting at most `wait`; pushes kept by
    /// [`Connection::receive`] come first.
    pub async fn receive_any(&mut self, wait: std::time::Duration) -> Result<Message, ClientError> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(push);
        }
        self.read_frame(wait).await
    }

    async fn read_frame(&mut self, wait: std::time::Duration) -> Result<Message, ClientError> {
        let next = tokio::time::timeout(wait, self.framed.next())
            .await
            .map_err(|_| ClientError::TimedOut(wait))?;
        match next {
            Some(Ok(Ok(message))) => Ok(message),
            Some(Ok(Err(rejected))) => Err(ClientError::Protocol(rejected.error)),
            Some(Err(e)) => Err(from_codec(e)),
            None => Err(ClientError::Closed),
        }
    }

    /// Sends a request and returns its single-frame reply; a Fail reply is an error.
    pub async fn call(&mut self, request: &Message) -> Result<Message, ClientError> {
        self.send(request).await?;
        let reply = self.receive().await?;
        fail_to_error(reply)
    }

    /// Resumes `session_id` on this connection (`loginWithSession`) and enters DataTransfer
    /// state with it: what a connection carrying subscriptions starts with.
    pub async fn open_data_transfer(&mut self, session_id: &str) -> Result<(), ClientError> {
        use papertrader_protocol::{ConnectionState, SessionToken, SwitchState};
        self.call(&Message::LoginWithSession(SessionToken {
            session_id: session_id.to_owned(),
        }))
        .await?;
        self.call(&Message::SwitchState(SwitchState {
            session_id: session_id.to_owned(),
            state: ConnectionState::DataTransfer,
        }))
        .await?;
        Ok(())
    }

    /// Sends a data request and reassembles the transfer, calling `progress(received, max)`
    /// after each packet.
    pub async fn call_data(
        &mut self,
        request: &Message,
        mut progress: impl FnMut(u32, u32),
    ) -> Result<DataBody, ClientError> {
        self.send(request).await?;
        let mut reassembler = Reassembler::default();
        loop {
            match fail_to_error(self.receive().await?)? {
                Message::Data(packet) => {
                    match reassembler.push(packet).map_err(ProtocolError::from)? {
                        Progress::Partial { received, max } => progress(received, max),
                        Progress::Complete(body) => return Ok(body),
                    }
                }
                other => return Err(ClientError::Unexpected(other.instruction().name())),
            }
        }
    }
}

/// A codec error as the caller sees it: a failed socket read or write is a lost connection
/// ([`ClientError::Io`], which [`ClientError::is_unreachable`] counts), anything else a
/// protocol error.
fn from_codec(error: ProtocolError) -> ClientError {
    match error {
        ProtocolError::Io(e) => ClientError::Io(e),
        other => ClientError::Protocol(other),
    }
}

/// Turns a Fail reply (or `error`) into [`ClientError::Failed`].
pub fn fail_to_error(reply: Message) -> Result<Message, ClientError> {
    match reply.failure() {
        Some(failure) => Err(ClientError::Failed {
            instruction: reply.instruction().name(),
            failure: failure.clone(),
        }),
        None => Ok(reply),
    }
}
