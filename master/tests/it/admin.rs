//! The admin endpoint: a 0600 Unix socket carrying typed admin commands.

use papertrader_client::Connection;
use papertrader_master::admin::{request, AdminReply, AdminRequest};
use papertrader_protocol::*;
use papertrader_runtime::identity::SigningIdentity;

use crate::support::*;

#[actix::test]
async fn admins_manage_workers_and_sessions_over_the_socket() {
    let db = TestDb::sqlite();
    let master = master(&db).await;
    let socket = master.admin_socket.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner may reach the admin endpoint");
    }
    let ask = |r: AdminRequest| {
        let socket = socket.clone();
        async move { request(&socket, &r).await.expect("admin reply") }
    };

    let key = SigningIdentity::generate("w1")
        .unwrap()
        .public()
        .armored()
        .unwrap();
    let uuid = uuid::Uuid::new_v4();
    let add = AdminRequest::WorkersAdd {
        name: "w1".into(),
        uuid,
        address: "10.0.0.5:2049".into(),
        allowed_ips: vec!["127.0.0.1".parse().unwrap()],
        public_key: key.clone(),
    };
    assert!(matches!(ask(add.clone()).await, AdminReply::Ok { .. }));
    assert!(
        matches!(ask(add).await, AdminReply::Error { .. }),
        "duplicate refused"
    );
    let bad_key = AdminRequest::WorkersAdd {
        name: "w2".into(),
        uuid: uuid::Uuid::new_v4(),
        address: "x:1".into(),
        allowed_ips: vec!["127.0.0.1".parse().unwrap()],
        public_key: "not a key".into(),
    };
    assert!(
        matches!(ask(bad_key).await, AdminReply::Error { code, .. } if code == "InvalidArgument")
    );
    let AdminReply::Workers { workers } = ask(AdminRequest::WorkersList).await else {
        panic!()
    };
    assert_eq!(workers.len(), 1);
    assert_eq!(
        (
            workers[0].uuid.as_str(),
            workers[0].enabled,
            workers[0].online
        ),
        (uuid.hyphenated().to_string().as_str(), true, false)
    );
    assert!(matches!(
        ask(AdminRequest::WorkersBoot { name: "w1".into() }).await,
        AdminReply::Ok { .. }
    ));
    let AdminReply::Workers { workers } = ask(AdminRequest::WorkersList).await else {
        panic!()
    };
    assert!(!workers[0].enabled);
    assert!(matches!(
        ask(AdminRequest::WorkersEnable { name: "w1".into() }).await,
        AdminReply::Ok { .. }
    ));
    assert!(matches!(
        ask(AdminRequest::WorkersBoot {
            name: "nope".into()
        })
        .await,
        AdminReply::Error { .. }
    ));
    assert!(matches!(
        ask(AdminRequest::WorkersRemove { name: "w1".into() }).await,
        AdminReply::Ok { .. }
    ));
    let AdminReply::Workers { workers } = ask(AdminRequest::WorkersList).await else {
        panic!()
    };
    assert!(workers.is_empty());

    // Sessions: listed without tokens, revocable.
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let token = new_user(&mut c, "rita").await;
    let AdminReply::Sessions { sessions } = ask(AdminRequest::SessionsList).await else {
        panic!()
    };
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].username, "rita");
    let listing = serde_json::to_string(&sessions).unwrap();
    assert!(!listing.contains(&token), "tokens never leave the master");
    assert!(matches!(
        ask(AdminRequest::SessionsRevoke { id: sessions[0].id }).await,
        AdminReply::Ok { .. }
    ));
    let resume = Message::LoginWithSession(SessionToken { session_id: token });
    assert_eq!(reason(c.call(&resume).await), ReasonCode::SessionInvalid);

    let AdminReply::Status(status) = ask(AdminRequest::Status).await else {
        panic!()
    };
    assert_eq!((status.database.as_str(), status.assets), ("sqlite", 10));
    let AdminReply::Log { lines } = ask(AdminRequest::LogDump).await else {
        panic!()
    };
    assert!(
        lines.iter().any(|l| l.contains("admin command")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("BEGIN PGP")),
        "arguments are not logged"
    );

    // Garbage gets an error reply, not a crash.
    let garbage = tokio::net::UnixStream::connect(&master.admin_socket)
        .await
        .unwrap();
    let (read, mut write) = garbage.into_split();
    tokio::io::AsyncWriteExt::write_all(&mut write, b"{not json\n")
        .await
        .unwrap();
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(read), &mut line)
        .await
        .unwrap();
    assert!(line.contains("Malformed"), "{line}");
}
