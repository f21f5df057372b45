//! A session's life after login: authenticate a token, resume it from another connection,
//! log out, end connection-bound sessions with their connection, and the admin's list and
//! revocation.

use actix::prelude::*;
use slog::warn;

use super::{now_ms, SessionActor};
use crate::db::sessions::{self, SessionRecord};
use crate::domain::sessions::{token_hash, LiveSession, Origin, SessionError};

/// Check a session token; resolves to the live session.
#[derive(Message)]
#[rtype(result = "Result<LiveSession, SessionError>")]
pub struct Authenticate {
    /// The token as the client sent it.
    pub token: String,
}

impl SessionActor {
    /// Looks a token up in memory, then in the database; checks activity and expiry. A
    /// session that ended in this process is never revived by a read that raced its end.
    pub(super) fn authenticate(
        &mut self,
        token: &str,
    ) -> ResponseActFuture<Self, Result<LiveSession, SessionError>> {
        let hash = token_hash(token);
        let now = now_ms();
        if let Some(live) = self.live.get(&hash) {
            if live.expires_at > now {
                return Box::pin(fut::ready(Ok(live.clone())));
            }
            self.forget(&hash);
            return Box::pin(fut::ready(Err(SessionError::Expired)));
        }
        let db = self.db.clone();
        let fail = self.db_failure("authenticate");
        let lookup_hash = hash.clone();
        let ticket = self.ended.begin_load();
        let work = async move {
            db.run(move |c| sessions::find_by_token_hash(c, &lookup_hash))
                .await
                .map_err(fail)
        };
        Box::pin(work.into_actor(self).map(move |found, act, _| {
            // Asked before the read is marked finished: finishing it may forget the end.
            let ended = matches!(&found, Ok(Some(r)) if act.ended.is_ended(r.id));
            act.ended.finish_load(ticket);
            let record = found?.ok_or(SessionError::Invalid)?;
            // A connection-bound session lives only in this cache while its connection is
            // open; one found only in the database has lost its connection.
            if !record.is_active || !record.is_expirable || ended {
                return Err(SessionError::Invalid);
            }
            if record.expires_at <= now {
                return Err(SessionError::Expired);
            }
            if let Some(cached) = act.live.get(&hash) {
                // Another request loaded it meanwhile.
                return Ok(cached.clone());
            }
            let live = LiveSession {
                session_id: record.id,
                account_id: record.account_id,
                username: record.username,
                expires_at: record.expires_at,
                is_expirable: record.is_expirable,
                connection: None,
            };
            act.remember(hash, live.clone());
            Ok(live)
        }))
    }
}

impl Handler<Authenticate> for SessionActor {
    type Result = ResponseActFuture<Self, Result<LiveSession, SessionError>>;

    fn handle(&mut self, msg: Authenticate, _: &mut Context<Self>) -> Self::Result {
        self.authenticate(&msg.token)
    }
}

/// `login(sessionID)`: resume a live expirable session, possibly from another connection or
/// worker. A connection-bound session cannot be moved: it lives exactly as long as the
/// connection that logged in, so resuming it elsewhere is refused (NotAuthorized).
#[derive(Message)]
#[rtype(result = "Result<LiveSession, SessionError>")]
pub struct Resume {
    /// The token.
    pub token: String,
    /// The resuming connection.
    pub origin: Origin,
}

impl Handler<Resume> for SessionActor {
    type Result = ResponseActFuture<Self, Result<LiveSession, SessionError>>;

    fn handle(&mut self, msg: Resume, _: &mut Context<Self>) -> Self::Result {
        let origin = msg.origin;
        Box::pin(self.authenticate(&msg.token).map(move |result, _, _| {
            let live = result?;
            if !live.is_expirable && live.connection != Some(origin.connection_id) {
                return Err(SessionError::BoundToItsConnection);
            }
            Ok(live)
        }))
    }
}

/// End a session now (logout or admin revocation by token).
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct Logout {
    /// The token.
    pub token: String,
}

impl Handler<Logout> for SessionActor {
    type Result = ResponseActFuture<Self, Result<(), SessionError>>;

    fn handle(&mut self, msg: Logout, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.authenticate(&msg.token).then(move |result, act, _| {
            let work: futures::future::LocalBoxFuture<'static, Result<(), SessionError>> =
                match result {
                    Ok(live) => {
                        let ended = act.end_sessions(vec![live.session_id], SessionError::Invalid);
                        Box::pin(async move { ended.await.map(|_| ()) })
                    }
                    Err(failure) => Box::pin(fut::ready(Err(failure))),
                };
            work.into_actor(act)
        }))
    }
}

/// A connection closed: its connection-bound sessions end.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientClosed {
    /// The closed connection.
    pub connection_id: u64,
}

impl Handler<ClientClosed> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: ClientClosed, ctx: &mut Context<Self>) {
        let Some(hashes) = self.by_connection.remove(&msg.connection_id) else {
            return;
        };
        let ids: Vec<i64> = hashes
            .iter()
            .filter_map(|h| self.live.get(h))
            .map(|s| s.session_id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let log = self.log.clone();
        let ended = self.end_sessions(ids, SessionError::Invalid);
        ctx.spawn(
            async move {
                if let Err(e) = ended.await {
                    warn!(log, "could not store the end of connection-bound sessions"; "error" => %e);
                }
            }
            .into_actor(self),
        );
    }
}

/// Admin: the live sessions.
#[derive(Message)]
#[rtype(result = "Result<Vec<SessionRecord>, SessionError>")]
pub struct ListSessions;

impl Handler<ListSessions> for SessionActor {
    type Result = ResponseFuture<Result<Vec<SessionRecord>, SessionError>>;

    fn handle(&mut self, _: ListSessions, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let fail = self.db_failure("list sessions");
        Box::pin(async move {
            db.run(|c| sessions::list_live(c, now_ms()))
                .await
                .map_err(fail)
        })
    }
}

/// Admin: revoke a session by its database id.
#[derive(Message)]
#[rtype(result = "Result<bool, SessionError>")]
pub struct Revoke {
    /// `sessions.id`.
    pub session_id: i64,
}

impl Handler<Revoke> for SessionActor {
    type Result = ResponseFuture<Result<bool, SessionError>>;

    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) -> Self::Result {
        let ended = self.end_sessions(vec![msg.session_id], SessionError::Invalid);
        Box::pin(async move { Ok(ended.await? > 0) })
    }
}
