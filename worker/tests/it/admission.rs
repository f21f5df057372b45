//! Who gets in: unknown UUIDs, wrong addresses, wrong keys and replayed proofs are refused,
//! each refusal logged with its reason; a master that cannot prove its key is refused too.

use papertrader_client::Connection;
use papertrader_protocol::*;
use papertrader_runtime::identity::{
    master_proof, worker_proof, SigningIdentity, VerifyingIdentity,
};
use papertrader_worker::server::load_or_create_identity;

use crate::support::*;

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

#[actix::test]
async fn expired_revoked_and_non_signing_keys_are_refused_at_registration_and_admission() {
    use papertrader_master::actors::worker_registry::AddWorker;
    use papertrader_master::db::workers::{self, WorkerRow};
    use pgp::composed::{Deserializable, DetachedSignature, SignedSecretKey};
    use pgp::ser::Serialize;

    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let fixture = |name: &str| {
        std::fs::read_to_string(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/keys/").to_owned() + name,
        )
        .unwrap()
    };

    // `workers add` refuses them, saying why.
    for (name, says) in [
        ("expired", "expired at 2020-01-03"),
        ("revoked", "revoked"),
        ("subexpired", "signing subkey 1: it expired"),
    ] {
        let add = AddWorker {
            name: name.into(),
            uuid: uuid::Uuid::new_v4(),
            address: format!("{name}.test:2049"),
            allowed_ips: vec!["127.0.0.1".parse().unwrap()],
            public_key: fixture(&format!("{name}.pub.asc")),
        };
        let refused = master
            .services
            .registry
            .send(add)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.code, ReasonCode::InvalidArgument, "{name}");
        assert!(
            refused.message.contains(says),
            "{name}: {}",
            refused.message
        );
    }

    // A key that was registered while valid and has expired since (here: written straight
    // into the table) is refused at admission, even with a signature whose maths is right.
    let uuid = uuid::Uuid::new_v4();
    let row = WorkerRow {
        uuid: uuid.hyphenated().to_string(),
        name: "lapsed".into(),
        address: "lapsed.test:2049".into(),
        allowed_ips: "127.0.0.1".into(),
        public_key: fixture("expired.pub.asc"),
        enabled: true,
        created_at: 0,
    };
    assert!(master
        .services
        .db
        .run(move |c| workers::insert(c, &row))
        .await
        .unwrap());
    let (mut link, challenge, _) = challenge(&master, uuid).await;
    let (secret, _) =
        SignedSecretKey::from_armor_single(std::io::Cursor::new(fixture("expired.sec.asc")))
            .unwrap();
    let signature = DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        &secret.primary_key,
        &pgp::types::Password::empty(),
        pgp::crypto::hash::HashAlgorithm::Sha256,
        &worker_proof(uuid.as_bytes(), &challenge.master_nonce)[..],
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    link.send(&Message::AdmissionProof(AdmissionProof { signature }))
        .await
        .unwrap();
    let Message::AdmissionRefused(refusal) = link.receive().await.unwrap() else {
        panic!("an expired key was admitted")
    };
    assert_eq!(refusal.code, ReasonCode::KeyNotValid);
    assert!(refusal.message.contains("expired"), "{}", refusal.message);

    // A worker holding an expired key refuses to start, naming the reason.
    let config = worker_config(dir.path(), "stale", master.local_addr);
    std::fs::create_dir_all(config.key_file.parent().unwrap()).unwrap();
    std::fs::write(&config.key_file, fixture("expired.sec.asc")).unwrap();
    let logs = papertrader_runtime::log::LogSystem::new(&config.log_file, 16);
    let error = papertrader_worker::server::start(config, logs)
        .await
        .err()
        .expect("a worker with an expired key started");
    assert!(format!("{error:#}").contains("may not sign"), "{error:#}");

    // A certify-only key with a valid signing subkey is admitted: the worker signs with the
    // subkey.
    let config = worker_config(dir.path(), "subsign", master.local_addr);
    std::fs::create_dir_all(config.key_file.parent().unwrap()).unwrap();
    std::fs::write(&config.key_file, fixture("subsign.sec.asc")).unwrap();
    register_worker(&master, "subsign", &config, &["127.0.0.1"]).await;
    let worker = start_worker(config).await;
    wait_link(&worker.link, up).await;
}

#[actix::test]
async fn a_forward_naming_another_worker_closes_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let (mut link, uuid) = raw_link(&master, dir.path(), "honest").await;
    let ping = Message::GetWorkerList(papertrader_protocol::Empty {});
    assert!(matches!(
        forward(&mut link, uuid, 1, 1, &ping).await,
        Message::WorkerList(_)
    ));
    let other = uuid::Uuid::new_v4();
    let closed = forward_until_closed(&mut link, other, &ping).await;
    assert_eq!(closed, Some(ReasonCode::HandshakeViolation));
}

/// Forwards `request` naming worker `uuid`; the reason of the `linkClosed` that follows, if any
/// (None when a reply came instead).
async fn forward_until_closed(
    link: &mut Connection,
    uuid: uuid::Uuid,
    request: &Message,
) -> Option<ReasonCode> {
    link.send(&Message::Forward(papertrader_protocol::Forward {
        request_id: 2,
        worker_uuid: *uuid.as_bytes(),
        client_connection: 1,
        client_ip: "127.0.0.1".parse().unwrap(),
        received_at_ms: 0,
        frame: request.to_frame_bytes(4096).unwrap(),
    }))
    .await
    .unwrap();
    loop {
        match link.receive().await {
            Ok(Message::LinkClosed(failure)) => return Some(failure.code),
            Ok(Message::ForwardReply(_)) => return None,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}
