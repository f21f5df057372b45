//! Admission of a worker on its link: `workerHello` → challenge → signed proof, checked
//! against the registry (UUID, enabled, whitelisted address, a valid signing key).

use actix::prelude::*;
use papertrader_protocol::{
    AdmissionChallenge, AdmissionProof, Admitted, Failure, Message, ReasonCode, WorkerHello,
};
use papertrader_runtime::identity::{master_proof, worker_proof};
use rand::RngCore;
use slog::{info, warn};

use super::{price_tick, Stage, WorkerLinkActor};
use crate::actors::asset_fetcher::Subscribe;
use crate::actors::worker_registry::{Lookup, WorkerOnline};

impl WorkerLinkActor {
    /// Refuses admission: logs why, tells the worker, closes.
    pub(super) fn refuse(&mut self, failure: Failure, ctx: &mut Context<Self>) {
        warn!(self.link.log, "worker refused"; "peer" => %self.peer.addr, "reason" => failure.code.name(), "detail" => &failure.message);
        self.output.try_send(Message::AdmissionRefused(failure));
        ctx.stop();
    }

    pub(super) fn hello(&mut self, hello: WorkerHello, ctx: &mut Context<Self>) {
        self.stage = Stage::Checking;
        let uuid = uuid::Uuid::from_bytes(hello.worker_uuid);
        let registry = self.link.registry.clone();
        let lookup = async move { registry.send(Lookup { uuid }).await };
        ctx.wait(lookup.into_actor(self).map(move |found, act, ctx| {
            let worker = match found {
                Ok(Ok(Some(worker))) => worker,
                Ok(Ok(None)) => {
                    return act.refuse(
                        Failure::new(
                            ReasonCode::WorkerUnknown,
                            format!("worker {uuid} is not registered"),
                        ),
                        ctx,
                    )
                }
                _ => {
                    return act.refuse(
                        Failure::new(ReasonCode::Unavailable, "the registry is unavailable"),
                        ctx,
                    )
                }
            };
            if !worker.enabled {
                return act.refuse(
                    Failure::new(
                        ReasonCode::BootedOff,
                        format!("worker {} is booted off", worker.name),
                    ),
                    ctx,
                );
            }
            let ip = act.peer.addr.ip().to_canonical();
            if !worker
                .allowed_ips
                .iter()
                .any(|allowed| allowed.to_canonical() == ip)
            {
                return act.refuse(
                    Failure::new(
                        ReasonCode::AddressNotAllowed,
                        format!("{ip} is not whitelisted for worker {}", worker.name),
                    ),
                    ctx,
                );
            }
            let signature = match act
                .link
                .identity
                .sign(&master_proof(&hello.worker_uuid, &hello.worker_nonce))
            {
                Ok(signature) => signature,
                Err(e) => {
                    return act.refuse(
                        Failure::new(ReasonCode::Internal, format!("master cannot sign: {e}")),
                        ctx,
                    )
                }
            };
            let mut nonce = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            act.output
                .try_send(Message::AdmissionChallenge(AdmissionChallenge {
                    master_nonce: nonce,
                    master_signature: signature,
                }));
            act.stage = Stage::AwaitProof {
                uuid,
                nonce,
                worker: Box::new(worker),
            };
        }));
    }

    pub(super) fn proof(&mut self, proof: AdmissionProof, ctx: &mut Context<Self>) {
        let Stage::AwaitProof {
            uuid,
            nonce,
            worker,
        } = std::mem::replace(&mut self.stage, Stage::Checking)
        else {
            return self.refuse(
                Failure::new(
                    ReasonCode::HandshakeViolation,
                    "admissionProof before admissionChallenge",
                ),
                ctx,
            );
        };
        if let Err(e) = worker
            .key
            .verify(&worker_proof(uuid.as_bytes(), &nonce), &proof.signature)
        {
            // An expired or revoked key is checked at every admission, not only at `workers add`.
            let code = if e.is_not_valid() {
                ReasonCode::KeyNotValid
            } else {
                ReasonCode::BadSignature
            };
            return self.refuse(
                Failure::new(code, format!("worker {}: {e}", worker.name)),
                ctx,
            );
        }
        info!(self.link.log, "worker admitted"; "name" => &worker.name, "peer" => %self.peer.addr);
        self.output.try_send(Message::Admitted(Admitted {
            worker_name: worker.name.clone(),
            update_interval_ms: self.link.update_interval_ms,
        }));
        let snapshot = self.link.services.book.snapshot();
        self.output.try_send(price_tick(&snapshot));
        self.link.registry.do_send(WorkerOnline {
            uuid: uuid.hyphenated().to_string(),
            name: worker.name.clone(),
            address: worker.address.clone(),
            link: ctx.address().recipient(),
        });
        self.link
            .fetcher
            .do_send(Subscribe(ctx.address().recipient()));
        self.stage = Stage::Admitted {
            uuid,
            name: worker.name,
        };
    }
}
