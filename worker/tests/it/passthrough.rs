//! Reply frames pass through a worker as they come: a client sees the first packet of a
//! `data` transfer while the master has not sent the second yet, and the bytes it receives are
//! the bytes the master sent.

use std::time::Duration;

use papertrader_client::Connection;
use papertrader_protocol::transfer::split;
use papertrader_protocol::*;
use papertrader_runtime::identity::{master_proof, SigningIdentity};
use tokio::net::TcpListener;

use crate::support::*;

/// The master's side of an admitted link, played by the test.
struct FakeMaster {
    link: Connection,
}

impl FakeMaster {
    /// Accepts the worker's link on `listener` and admits it with `identity`'s signature.
    async fn admit(listener: &TcpListener, identity: &SigningIdentity) -> Self {
        let (socket, _) = listener.accept().await.unwrap();
        let mut link = Connection::from_stream(socket).unwrap();
        let Message::WorkerHello(hello) = link.receive().await.unwrap() else {
            panic!("no hello")
        };
        let signature = identity
            .sign(&master_proof(&hello.worker_uuid, &hello.worker_nonce))
            .unwrap();
        link.send(&Message::AdmissionChallenge(AdmissionChallenge {
            master_nonce: [9; 32],
            master_signature: signature,
        }))
        .await
        .unwrap();
        let Message::AdmissionProof(_) = link.receive().await.unwrap() else {
            panic!("no proof")
        };
        link.send(&Message::Admitted(Admitted {
            worker_name: "w".into(),
            update_interval_ms: 1000,
        }))
        .await
        .unwrap();
        Self { link }
    }

    /// The next forwarded request (skipping anything else on the link).
    async fn next_forward(&mut self) -> (u64, Message) {
        loop {
            if let Message::Forward(forward) = self.link.receive().await.unwrap() {
                let request = Message::from_bytes(&forward.frame, DEFAULT_MAX_PAYLOAD).unwrap();
                return (forward.request_id, request);
            }
        }
    }

    async fn reply(&mut self, request_id: u64, reply: &Message) {
        self.link
            .send(&Message::ForwardReply(ForwardReply {
                request_id,
                frame: reply.to_frame_bytes(DEFAULT_MAX_PAYLOAD).unwrap(),
            }))
            .await
            .unwrap();
    }
}

#[actix::test]
async fn each_packet_reaches_the_client_as_the_master_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity = SigningIdentity::generate("fake master").unwrap();
    std::fs::write(
        dir.path().join("master.pub.asc"),
        identity.public().armored().unwrap(),
    )
    .unwrap();
    let config = worker_config(dir.path(), "w", listener.local_addr().unwrap());
    let worker = start_worker(config).await;
    let mut master = FakeMaster::admit(&listener, &identity).await;
    wait_link(&worker.link, up).await;
    let mut client = Connection::connect(worker.local_addr).await.unwrap();

    client
        .send(&Message::SwitchState(SwitchState {
            session_id: "0a".repeat(16),
            state: ConnectionState::DataTransfer,
        }))
        .await
        .unwrap();
    let (id, _) = master.next_forward().await;
    let switched = Message::StateSwitchSuccess(StateSwitched {
        state: ConnectionState::DataTransfer,
    });
    master.reply(id, &switched).await;
    assert_eq!(client.receive().await.unwrap(), switched);

    client
        .send(&Message::GetAssetValueYear(AssetRangeQuery {
            symbol: "AAPL".into(),
            date_ms: 1_700_000_000_000,
        }))
        .await
        .unwrap();
    let (id, request) = master.next_forward().await;
    assert!(matches!(request, Message::GetAssetValueYear(_)));
    let packets = split(&[7u8; 3000], 1000);
    assert_eq!(packets.len(), 3);
    for packet in packets {
        let sent = Message::Data(packet);
        master.reply(id, &sent).await;
        // The packet arrives before the master sends the next one.
        let received = tokio::time::timeout(Duration::from_secs(5), client.receive())
            .await
            .expect("each packet is passed on at once")
            .unwrap();
        assert_eq!(received, sent);
    }
}
