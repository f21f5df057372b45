//! A deployment of separate processes: `papertrader master`, two `papertrader worker`s
//! registered with `papertrader admin`; one worker dies and the CLI carries on with the other.

use crate::support::*;

#[test]
fn the_cli_fails_over_when_a_worker_dies() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let master_addr = format!("127.0.0.1:{}", ports[0]);
    let _master = Server::start(
        dir.path(),
        &[
            "master",
            "--listen",
            &master_addr,
            "--bcrypt-cost",
            "4",
            "--update-interval-ms",
            "200",
        ],
        "listening",
    );
    let mut workers = Vec::new();
    for (i, port) in ports[1..].iter().enumerate() {
        let name = format!("w{i}");
        let home = name.clone();
        let listen = format!("127.0.0.1:{port}");
        let files = |f: &str| format!("{home}/{f}");
        let args = [
            "worker",
            "--listen",
            &listen,
            "--master",
            &master_addr,
            "--uuid-file",
            &files("uuid"),
            "--key-file",
            &files("worker.sec.asc"),
            "--public-key-file",
            &files("worker.pub.asc"),
            "--master-key-file",
            "data/master.pub.asc",
            "--log-file",
            &files("worker.log"),
            "--admin-socket",
            &files("worker.admin.sock"),
        ];
        // First start creates the UUID and key files (the link is refused until registered).
        let worker = Server::start(dir.path(), &args, "listening");
        let uuid = std::fs::read_to_string(dir.path().join(files("uuid"))).unwrap();
        let add = std::process::Command::new(BIN)
            .args([
                "admin",
                "--socket",
                "data/master.admin.sock",
                "workers",
                "add",
                &name,
                "--uuid",
                uuid.trim(),
            ])
            .args([
                "--address",
                &listen,
                "--allow-ip",
                "127.0.0.1",
                "--key",
                &files("worker.pub.asc"),
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            add.status.success(),
            "{}",
            String::from_utf8_lossy(&add.stderr)
        );
        workers.push(worker);
    }
    let user = User {
        home: dir.path().join("home"),
        master: master_addr.clone(),
        password: "pw".into(),
    };
    // The workers retry their link with backoff: wait until both are listed (bounded).
    let mut listed = 0;
    for _ in 0..100 {
        listed = user
            .ok(&["--json", "workers"])
            .json()
            .as_array()
            .unwrap()
            .len();
        if listed == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(listed, 2);
    user.ok(&["register", "tess", "--email", "tess@example.com"]);
    let login = user.ok(&["--json", "login", "tess"]).json();
    user.ok(&["buy", "KO", "5"]);

    // Kill the worker the CLI used; the session resumes on the other one.
    let used = login["worker"].as_str().unwrap().to_owned();
    let index = ports[1..]
        .iter()
        .position(|p| used.ends_with(&format!(":{p}")))
        .expect("a known worker");
    workers.remove(index).kill();
    let portfolio = user.ok(&["--json", "portfolio"]).json();
    assert_eq!(portfolio["holdings"][0]["quantity"], 5);
    user.ok(&["sell", "KO", "2"]);
    assert_eq!(
        user.ok(&["--json", "trades"]).json()["trades"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
