//! The DataTransfer states that workers' client connections hold with a session: opened and
//! closed here, and ended on the worker when their session ends.

use actix::prelude::*;

use super::SessionActor;
use crate::data_states::Grant;
use crate::domain::sessions::{LiveSession, SessionError};

/// Open (or re-open) a client connection's DataTransfer state with a session: resolves to the
/// live session, and remembers the worker connection's grant so that the worker is told when
/// the session ends.
#[derive(Message)]
#[rtype(result = "Result<LiveSession, SessionError>")]
pub struct OpenDataState {
    /// The session's token.
    pub token: String,
    /// The worker connection and where to tell it (none for a direct client).
    pub holder: Option<DataStateHolder>,
}

/// A worker client connection that holds a DataTransfer state, and its link.
#[derive(Clone)]
pub struct DataStateHolder {
    /// The connection and the grant.
    pub grant: Grant,
    /// The link actor to tell.
    pub link: Recipient<EndDataStates>,
}

impl Handler<OpenDataState> for SessionActor {
    type Result = ResponseActFuture<Self, Result<LiveSession, SessionError>>;

    fn handle(&mut self, msg: OpenDataState, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).map(move |result, act, _| {
            let live = result?;
            if let Some(holder) = msg.holder {
                act.links.insert(holder.grant.link_id, holder.link);
                act.data_states
                    .open(live.session_id, live.expires_at, holder.grant);
            }
            Ok(live)
        }))
    }
}

/// A worker client connection left DataTransfer state, or closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseDataState {
    /// The worker link.
    pub link_id: u64,
    /// The worker's id for the connection.
    pub client_connection: u64,
}

impl Handler<CloseDataState> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: CloseDataState, _: &mut Context<Self>) {
        self.data_states.close(msg.link_id, msg.client_connection);
    }
}

/// A worker link closed: its connections' DataTransfer states are gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LinkClosed {
    /// The link.
    pub link_id: u64,
}

impl Handler<LinkClosed> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: LinkClosed, _: &mut Context<Self>) {
        self.data_states.close_link(msg.link_id);
        self.links.remove(&msg.link_id);
    }
}

/// To a worker link: these DataTransfer states ended; resolves once the worker has applied
/// it (or the link gave up on the worker).
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndDataStates {
    /// The states that ended, all on the recipient's link.
    pub grants: Vec<Grant>,
    /// Why: [`SessionError::Invalid`] (logged out, revoked, its connection closed) or
    /// [`SessionError::Expired`].
    pub reason: SessionError,
}
