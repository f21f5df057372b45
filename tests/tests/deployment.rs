//! docker-compose.yml and the Dockerfile, checked against the binaries' real configuration and
//! against the deployment's rules: every PAPERTRADER_* variable set is one the master or worker
//! reads; workers never mount the master's secret key or admin socket; each published port and
//! worker address is written once and provisioned from the same value; no secret is a literal;
//! the file suits docker-compose 1.29 and Compose v2. `tests/compose/compose-test.sh` (run by
//! `.ci/run`) then builds the images and runs the deployment for real.

use std::collections::BTreeSet;

use clap::CommandFactory;
use serde_yaml::Value;

fn compose_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docker-compose.yml"
    ))
    .expect("docker-compose.yml")
}

fn dockerfile() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile"))
        .expect("Dockerfile")
}

/// The compose file without its comment lines (which may name what the file avoids).
fn compose_code() -> String {
    compose_text()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The compose file as Compose reads it: anchors resolved, `<<:` merged.
fn compose() -> Value {
    let mut value: Value = serde_yaml::from_str(&compose_text()).expect("valid YAML");
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

fn value_of(env: &[(String, String)], key: &str) -> String {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{key} is not set"))
}

const WORKERS: [&str; 2] = ["worker-1", "worker-2"];

#[test]
fn compose_services_and_environment_match_the_binaries() {
    let compose = compose();
    let master_env = env_names::<papertrader_master::config::MasterArgs>();
    let worker_env = env_names::<papertrader_worker::config::WorkerArgs>();

    let postgres = service(&compose, "postgres");
    assert!(postgres["healthcheck"]["test"].is_sequence());

    let master = service(&compose, "master");
    assert_eq!(strings(&master["command"]), ["master"]);
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
    let url = value_of(&env, "PAPERTRADER_MASTER_DATABASE_URL");
    assert!(
        url.starts_with("postgres://") && url.contains("@postgres:5432/"),
        "{url}"
    );
    // Logs go to stdout, where `docker compose logs` reads them.
    assert_eq!(value_of(&env, "PAPERTRADER_MASTER_LOG_FILE"), "-");
    // Healthy means ready: the database answers and prices are fresh.
    assert_ready_check(master, &env, "PAPERTRADER_MASTER_OPS_LISTEN", "master");

    for name in WORKERS {
        let worker = service(&compose, name);
        assert_eq!(strings(&worker["command"]), ["worker"]);
        assert_eq!(
            worker["depends_on"]["master"]["condition"], "service_healthy",
            "{name}"
        );
        assert_eq!(worker["restart"], "unless-stopped");
        let env = environment(worker);
        for (key, _) in &env {
            assert!(
                worker_env.contains(key),
                "{name} sets {key}, which the worker does not read"
            );
        }
        assert_eq!(value_of(&env, "PAPERTRADER_WORKER_MASTER"), "master:2048");
        assert_eq!(value_of(&env, "PAPERTRADER_WORKER_LISTEN"), "0.0.0.0:2049");
        assert_eq!(value_of(&env, "PAPERTRADER_WORKER_LOG_FILE"), "-");
        // Healthy means ready (admitted: its link to the master is up), asked of the worker's
        // own ops endpoint rather than by probing the client port.
        assert_ready_check(worker, &env, "PAPERTRADER_WORKER_OPS_LISTEN", name);
    }
}

#[test]
fn workers_see_the_masters_public_key_and_nothing_else_of_it() {
    let compose = compose();
    let master = service(&compose, "master");
    let env = environment(master);
    let public_key = value_of(&env, "PAPERTRADER_MASTER_PUBLIC_KEY_FILE");
    let secret_key = value_of(&env, "PAPERTRADER_MASTER_KEY_FILE");
    let admin_socket = value_of(&env, "PAPERTRADER_MASTER_ADMIN_SOCKET");
    let master_volumes = strings(&master["volumes"]);
    assert_eq!(
        master_volumes,
        [
            "master:/master",
            "master-public:/master-public",
            "tls-master:/tls:ro"
        ]
    );
    assert_eq!(public_key, "/master-public/master.pub.asc");
    assert!(secret_key.starts_with("/master/") && admin_socket.starts_with("/master/"));

    for name in WORKERS {
        let worker = service(&compose, name);
        assert_eq!(
            strings(&worker["volumes"]),
            [
                format!("{name}:/worker"),
                "master-public:/master-public:ro".to_owned(),
                "tls-worker:/tls:ro".to_owned()
            ],
            "{name} mounts its own volume, the master's public key and the workers' TLS \
             certificate, read-only, only"
        );
        assert_eq!(
            value_of(&environment(worker), "PAPERTRADER_WORKER_MASTER_KEY_FILE"),
            public_key
        );
    }
    // The CA's key is in `tls-ca`, which only the certificate step mounts.
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let mounts_ca = strings(&service["volumes"])
            .iter()
            .any(|v| v.starts_with("tls-ca:"));
        assert_eq!(mounts_ca, name.as_str() == Some("certs"), "{name:?}");
    }
    // Only the master and the provisioning step (an admin) mount the secret volume.
    let services = compose["services"].as_mapping().unwrap();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        if strings(&service["volumes"])
            .iter()
            .any(|v| v.starts_with("master:"))
        {
            assert!(
                ["master", "provision"].contains(&name),
                "{name} mounts `master`"
            );
        }
    }
}

#[test]
fn ports_and_worker_addresses_are_written_once_and_provisioned_from_there() {
    let text = compose_code();
    let compose = compose();
    let provision = service(&compose, "provision");
    let triples: Vec<Vec<String>> = strings(&provision["command"])
        .chunks(3)
        .map(<[String]>::to_vec)
        .collect();
    assert_eq!(triples.len(), WORKERS.len(), "NAME LINK-IP PORT per worker");
    let subnet = compose["networks"]["papertrader"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .expect("subnet");
    assert!(subnet.ends_with(".0/24"), "a small subnet: {subnet}");
    let prefix = subnet.trim_end_matches("0/24");
    for (name, triple) in WORKERS.iter().zip(&triples) {
        let worker = service(&compose, name);
        let ip = worker["networks"]["papertrader"]["ipv4_address"]
            .as_str()
            .expect("fixed address");
        assert!(ip.starts_with(prefix), "{ip} in {subnet}");
        let ports = worker["ports"].as_sequence().expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0]["target"].as_u64(), Some(2049));
        let published = ports[0]["published"].as_str().expect("published port");
        let variable = format!("PAPERTRADER_{}_PORT", name.to_uppercase().replace('-', "_"));
        assert!(
            published.starts_with(&format!("${{{variable}:-")),
            "{name} publishes {published}"
        );
        // The provisioned triple is the worker's own values (YAML aliases, not copies)...
        assert_eq!(
            triple,
            &[name.to_string(), ip.to_owned(), published.to_owned()]
        );
        // ...and the port variable, with its default, is written exactly once.
        assert_eq!(text.matches(&variable).count(), 1, "{variable}");
        assert_eq!(text.matches(ip).count(), 1, "{ip}");
    }
    let master = service(&compose, "master");
    assert_eq!(master["ports"][0]["target"].as_u64(), Some(2048));
    assert_eq!(
        master["ports"][0]["published"].as_str(),
        Some("${PAPERTRADER_MASTER_PORT:-2048}")
    );
}

#[test]
fn secrets_are_not_literals_and_both_compose_versions_accept_the_file() {
    let text = compose_code();
    let compose = compose();
    let postgres = environment(service(&compose, "postgres"));
    assert!(
        value_of(&postgres, "POSTGRES_PASSWORD").starts_with("${POSTGRES_PASSWORD:?"),
        "the database password comes from .env or the environment, and is required"
    );
    let url = value_of(
        &environment(service(&compose, "master")),
        "PAPERTRADER_MASTER_DATABASE_URL",
    );
    assert!(
        url.starts_with("postgres://papertrader:${POSTGRES_PASSWORD:?"),
        "{url}"
    );
    // docker-compose 1.29 (Debian 12) rejects a top-level `name:` and knows no `!override`.
    assert!(compose.get("name").is_none(), "no top-level name:");
    assert!(!text.contains("!override") && !text.contains("!reset"));
    for name in WORKERS.iter().chain(&["master"]) {
        for port in service(&compose, name)["ports"].as_sequence().unwrap() {
            assert!(port.get("host_ip").is_none(), "1.29 has no host_ip: {name}");
        }
    }
}

#[test]
fn the_image_runs_as_an_unprivileged_user_and_owns_the_volume_directories() {
    let dockerfile = dockerfile();
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage");
    assert!(dockerfile.lines().any(|l| l.trim() == "USER papertrader"));
    assert!(dockerfile.contains("cargo build --release --locked -p papertrader"));
    // A `# syntax=` line makes BuildKit fetch a frontend image: impossible without a registry.
    assert!(
        !dockerfile.lines().any(
            |l| l.trim_start().starts_with("# syntax") || l.trim_start().starts_with("#syntax")
        ),
        "no # syntax= line"
    );
    // Binaries built inside or copied from the host, selected by a build argument.
    assert!(dockerfile.contains("ARG BINARIES=source"));
    assert!(dockerfile.contains("FROM ${BINARIES} AS binaries"));
    assert!(dockerfile.contains("COPY --from=binaries "));
    // Every directory a papertrader container mounts a volume on exists in the image and
    // belongs to its user (a fresh named volume takes that owner; else uid 10001 cannot write).
    let owned: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| {
            l.trim()
                .trim_start_matches("&& ")
                .strip_prefix("install -d -o papertrader -g papertrader ")
        })
        .flat_map(str::split_whitespace)
        .filter(|word| word.starts_with('/'))
        .collect();
    let compose = compose();
    for (name, service) in compose["services"].as_mapping().unwrap() {
        if !service["image"]
            .as_str()
            .unwrap_or_default()
            .contains("papertrader:latest")
        {
            continue;
        }
        for volume in strings(&service["volumes"]) {
            let target = volume.split(':').nth(1).unwrap();
            if name.as_str() == Some("provision") && target.starts_with("/workers/") {
                continue; // read-only views of volumes the workers created
            }
            assert!(
                owned.contains(&target),
                "{name:?} mounts {target}: not in {owned:?}"
            );
        }
    }
}

/// The service's health check asks its own ops endpoint (on the port `ops_key` sets) for
/// readiness.
fn assert_ready_check(service: &Value, env: &[(String, String)], ops_key: &str, name: &str) {
    let ops = value_of(env, ops_key);
    let port = ops.rsplit(':').next().unwrap_or_default();
    let health = strings(&service["healthcheck"]["test"]).join(" ");
    assert_eq!(
        health,
        format!("CMD papertrader probe http://127.0.0.1:{port}/health/ready"),
        "{name} health check"
    );
}
