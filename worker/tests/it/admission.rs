//! Who gets in: unknown UUIDs, wrong addresses, wrong keys and replayed proofs are refused,
//! each refusal logged with its reason; a master that cannot prove its key is refused too.

use papertrader_actors::identity::{
    master_proof, worker_proof, SigningIdentity, VerifyingIdentity,
};
use papertrader_client::Connection;
use papertrader_master::server::RunningMaster;
use papertrader_protocol::*;
use papertrader_worker::server::load_or_create_identity;

use crate::support::*;

async fn challenge(
    master: &RunningMaster,
    uuid: uuid::Uuid,
) -> (Connection, AdmissionChallenge, [u8; 32]) {
    let mut link = Connection::connect(master.local_addr).await.unwrap();
    let nonce = [5u8; 32];
    link.send(&Message::WorkerHello(WorkerHello {
        worker_uuid: *uuid.as_bytes(),
        worker_nonce: nonce,
    }))
    .await
    .unwrap();
    let Message::AdmissionChallenge(c) = link.receive().await.unwrap() else {
        panic!("no challenge")
    };
    (link, c, nonce)
}

#[actix::test]
async fn only_registered_whitelisted_key_holding_workers_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;

    // Unknown UUID.
    let stranger = start_worker(worker_config(dir.path(), "stranger", master.local_addr)).await;
    wait_link(&stranger.link, down_with("WorkerUnknown")).await;

    // Registered for 127.0.0.1 but connecting from 127.0.0.2.
    let mut elsewhere = worker_config(dir.path(), "elsewhere", master.local_addr);
    register_worker(&master, "elsewhere", &elsewhere, &["127.0.0.1"]).await;
    elsewhere.link_bind_ip = Some("127.0.0.2".parse().unwrap());
    let elsewhere = start_worker(elsewhere).await;
    wait_link(&elsewhere.link, down_with("AddressNotAllowed")).await;

    // Registered with one key, holding another.
    let impostor_config = worker_config(dir.path(), "impostor", master.local_addr);
    register_worker(&master, "impostor", &impostor_config, &["127.0.0.1"]).await;
    std::fs::remove_file(&impostor_config.key_file).unwrap();
    let impostor = start_worker(impostor_config).await; // generates a fresh, unregistered key
    wait_link(&impostor.link, down_with("BadSignature")).await;

    // The worker checks the master too: with the wrong master key it never sends its proof.
    let mut wary = worker_config(dir.path(), "wary", master.local_addr);
    register_worker(&master, "wary", &wary, &["127.0.0.1"]).await;
    let fake_master = dir.path().join("fake-master.pub.asc");
    std::fs::write(
        &fake_master,
        SigningIdentity::generate("fake")
            .unwrap()
            .public()
            .armored()
            .unwrap(),
    )
    .unwrap();
    wary.master_key_file = fake_master;
    let wary = start_worker(wary).await;
    wait_link(&wary.link, down_with("failed to prove")).await;

    // A proof answers one challenge only: replaying it on a new link is refused.
    let honest = worker_config(dir.path(), "honest", master.local_addr);
    let uuid = register_worker(&master, "honest", &honest, &["127.0.0.1"]).await;
    let key = load_or_create_identity(&honest).unwrap();
    let master_key = VerifyingIdentity::from_armored(
        &std::fs::read_to_string(dir.path().join("master.pub.asc")).unwrap(),
    )
    .unwrap();
    let (mut first, c1, nonce) = challenge(&master, uuid).await;
    master_key
        .verify(&master_proof(uuid.as_bytes(), &nonce), &c1.master_signature)
        .expect("the master proves its key");
    let proof = key
        .sign(&worker_proof(uuid.as_bytes(), &c1.master_nonce))
        .unwrap();
    first
        .send(&Message::AdmissionProof(AdmissionProof {
            signature: proof.clone(),
        }))
        .await
        .unwrap();
    assert!(
        matches!(first.receive().await.unwrap(), Message::Admitted(a) if a.worker_name == "honest")
    );
    let (mut replay, c2, _) = challenge(&master, uuid).await;
    assert_ne!(c1.master_nonce, c2.master_nonce, "fresh nonce per link");
    replay
        .send(&Message::AdmissionProof(AdmissionProof {
            signature: proof,
        }))
        .await
        .unwrap();
    let Message::AdmissionRefused(refusal) = replay.receive().await.unwrap() else {
        panic!("replay accepted")
    };
    assert_eq!(refusal.code, ReasonCode::BadSignature);
    assert!(replay.receive().await.is_err(), "closed after the refusal");

    // Out-of-order handshake messages are refused too.
    let mut rude = Connection::connect(master.local_addr).await.unwrap();
    rude.send(&Message::AdmissionProof(AdmissionProof {
        signature: vec![1, 2, 3],
    }))
    .await
    .unwrap();
    let Message::AdmissionRefused(refusal) = rude.receive().await.unwrap() else {
        panic!()
    };
    assert_eq!(refusal.code, ReasonCode::HandshakeViolation);

    // Each refusal is in the master's log with its reason.
    let log = master_log(&master, dir.path()).await;
    for reason in [
        "WorkerUnknown",
        "AddressNotAllowed",
        "BadSignature",
        "HandshakeViolation",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("worker refused") && l.contains(reason)),
            "no {reason} in:\n{log}"
        );
    }
}

#[actix::test]
async fn keys_made_by_gpg_are_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/keys/");
    // The master runs on the gpg-made master key (passphrase from the environment).
    std::fs::copy(
        format!("{fixtures}master.sec.asc"),
        dir.path().join("master.sec.asc"),
    )
    .unwrap();
    std::env::set_var("PAPERTRADER_MASTER_KEY_PASSPHRASE", "fixture-passphrase");
    let master = start_master(dir.path()).await;
    std::env::remove_var("PAPERTRADER_MASTER_KEY_PASSPHRASE");
    let written = std::fs::read_to_string(dir.path().join("master.pub.asc")).unwrap();
    let gpg_public = VerifyingIdentity::from_armored(
        &std::fs::read_to_string(format!("{fixtures}master.pub.asc")).unwrap(),
    )
    .unwrap();
    let sig = SigningIdentity::from_armored(
        &std::fs::read_to_string(format!("{fixtures}master.sec.asc")).unwrap(),
        "fixture-passphrase",
    )
    .unwrap()
    .sign(b"x")
    .unwrap();
    VerifyingIdentity::from_armored(&written)
        .unwrap()
        .verify(b"x", &sig)
        .unwrap();
    gpg_public.verify(b"x", &sig).unwrap();

    // The worker uses the gpg-made worker key, registered by its gpg export.
    let config = worker_config(dir.path(), "gpg", master.local_addr);
    std::fs::create_dir_all(config.key_file.parent().unwrap()).unwrap();
    std::fs::copy(format!("{fixtures}worker.sec.asc"), &config.key_file).unwrap();
    register_worker(&master, "gpg", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;
}
