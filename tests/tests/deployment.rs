//! docker-compose.yml, checked against the binaries' real configuration. No Docker engine runs
//! on our machines, so this is what can be verified here: the file parses, the services,
//! ports, dependencies and health checks are there, and every PAPERTRADER_* variable it sets
//! is one the master or worker actually reads.

use std::collections::BTreeSet;

use clap::CommandFactory;
use serde_yaml::Value;

fn compose() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let mut value: Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("docker-compose.yml"))
            .expect("valid YAML");
    value.apply_merge().expect("`<<:` merge keys resolve"); // as docker compose does
    value
}

fn env_names<C: CommandFactory>() -> BTreeSet<String> {
    C::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("service {name}"))
}

fn environment(service: &Value) -> Vec<(String, String)> {
    service["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap_or_default().to_owned(),
                        v.as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_services_ports_and_environment_match_the_binaries() {
    let compose = compose();
    let master_env = env_names::<papertrader_master::config::MasterArgs>();
    let worker_env = env_names::<papertrader_worker::config::WorkerArgs>();

    let postgres = service(&compose, "postgres");
    assert!(postgres["healthcheck"]["test"].is_sequence());

    let master = service(&compose, "master");
    assert_eq!(strings(&master["command"]), ["master"]);
    assert!(strings(&master["ports"]).contains(&"2048:2048".to_owned()));
    assert_eq!(
        master["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    assert!(master["healthcheck"]["test"].is_sequence());
    let env = environment(master);
    for (key, _) in &env {
        assert!(
            master_env.contains(key),
            "master sets {key}, which the master does not read"
        );
    }
    let url = env
        .iter()
        .find(|(k, _)| k == "PAPERTRADER_MASTER_DATABASE_URL")
        .expect("database url")
        .1
        .clone();
    assert!(
        url.starts_with("postgres://") && url.contains("@postgres:5432/"),
        "{url}"
    );

    let mut client_ports = Vec::new();
    for name in ["worker-1", "worker-2"] {
        let worker = service(&compose, name);
        assert_eq!(strings(&worker["command"]), ["worker"]);
        assert_eq!(
            worker["depends_on"]["master"]["condition"], "service_healthy",
            "{name}"
        );
        assert_eq!(worker["restart"], "unless-stopped");
        assert!(worker["healthcheck"]["test"].is_sequence(), "{name}");
        let env = environment(worker);
        for (key, _) in &env {
            assert!(
                worker_env.contains(key),
                "{name} sets {key}, which the worker does not read"
            );
        }
        let value = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(value("PAPERTRADER_WORKER_MASTER"), "master:2048");
        assert_eq!(value("PAPERTRADER_WORKER_LISTEN"), "0.0.0.0:2049");
        // The master's public key comes from the master's volume, read-only.
        assert!(strings(&worker["volumes"]).contains(&"master:/master:ro".to_owned()));
        assert_eq!(
            value("PAPERTRADER_WORKER_MASTER_KEY_FILE"),
            "/master/master.pub.asc"
        );
        client_ports.extend(strings(&worker["ports"]));
        // Its fixed address is the one provisioning whitelists.
        let ip = worker["networks"]["papertrader"]["ipv4_address"]
            .as_str()
            .expect("fixed address")
            .to_owned();
        let provision = environment(service(&compose, "provision"));
        let listed = provision
            .iter()
            .find(|(k, _)| k == "PAPERTRADER_PROVISION_WORKERS")
            .expect("workers to provision")
            .1
            .clone();
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("{name} {ip} "))),
            "{name} {ip} not provisioned: {listed}"
        );
    }
    assert_eq!(client_ports, ["2049:2049", "2050:2049"]);
    let master_key_file = environment(master)
        .into_iter()
        .find(|(k, _)| k == "PAPERTRADER_MASTER_PUBLIC_KEY_FILE")
        .unwrap()
        .1;
    assert_eq!(master_key_file, "/master/master.pub.asc");
}

#[test]
fn the_image_runs_as_an_unprivileged_user() {
    let dockerfile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile")).unwrap();
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage");
    assert!(dockerfile.lines().any(|l| l.trim() == "USER papertrader"));
    assert!(dockerfile.contains("cargo build --release --locked -p papertrader"));
}
