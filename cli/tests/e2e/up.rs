//! `papertrader up` beyond its defaults: another address of this machine, a rate-limited price
//! source, and PostgreSQL.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::support::*;

/// An IPv4 address of this machine that is not loopback, if it has one.
fn non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below with freeifaddrs; entries are read only while
    // the list lives, and `ifa_addr` is checked for null and for AF_INET before the cast.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return None;
        }
        let mut found = None;
        let mut entry = list;
        while !entry.is_null() {
            let addr = (*entry).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let v4 = &*(addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() {
                    found = Some(ip);
                    break;
                }
            }
            entry = (*entry).ifa_next;
        }
        libc::freeifaddrs(list);
        found
    }
}

/// `up` arguments for `dir`-relative data on free ports.
fn up_args(ports: &[u16]) -> Vec<String> {
    [
        "up",
        "--data",
        "data",
        "--master-port",
        &ports[0].to_string(),
        "--worker-ports",
        &format!("{},{}", ports[1], ports[2]),
        "--bcrypt-cost",
        "4",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

#[test]
fn up_bound_to_another_address_of_this_machine_admits_its_workers() {
    let Some(ip) = non_loopback_ipv4() else {
        eprintln!("this machine has no non-loopback IPv4 address; test skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let mut args = up_args(&ports);
    args.extend(["--bind".to_owned(), ip.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _up = Server::start(dir.path(), &args, "Press Ctrl-C");

    let user = User {
        home: dir.path().join("home"),
        master: format!("{ip}:{}", ports[0]),
        password: "pw".into(),
    };
    let workers = user.ok(&["workers", "--json"]).json();
    let addresses: Vec<&str> = workers
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses.len(), 2, "{workers}");
    assert!(
        addresses.iter().all(|a| a.starts_with(&ip.to_string())),
        "{workers}"
    );
    user.ok(&["register", "far", "--email", "far@example.com"]);
    user.ok(&["login", "far"]);
    user.ok(&["quote", "AAPL"]);
    let listed = admin_json(
        dir.path(),
        &[
            "admin",
            "workers",
            "list",
            "--socket",
            "data/master.admin.sock",
        ],
    );
    let allowed = listed["workers"][0]["allowed_ips"].to_string();
    assert!(allowed.contains(&ip.to_string()), "{listed}");
    assert!(IpAddr::from(ip) != IpAddr::from([127, 0, 0, 1]));
}

#[test]
fn up_with_a_rate_limited_provider_picks_the_shortest_interval_that_fits_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(4);
    let mut args = up_args(&ports);
    // Nothing answers there: no prices, but the cluster comes up all the same.
    let nowhere = format!("http://127.0.0.1:{}", ports[3]);
    args.extend(
        ["--provider", "yahoo", "--provider-base-url", &nowhere]
            .iter()
            .map(|a| a.to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Yahoo: 100 requests a minute, one per asset per update; 10 assets need 6 s.
    let up = Server::start(dir.path(), &args, "update interval 6000 ms");
    up.wait_for_line("Press Ctrl-C", "up --provider yahoo");
    let user = User {
        home: dir.path().join("home"),
        master: format!("127.0.0.1:{}", ports[0]),
        password: "pw".into(),
    };
    assert_eq!(
        user.ok(&["assets", "--json"]).json()["update_interval_ms"],
        6000
    );
    drop(up);

    // Asked for explicitly, a too short interval is still refused, with the one that fits.
    let mut command = papertrader();
    command
        .args(&args)
        .args(["--update-interval-ms", "2000"])
        .current_dir(dir.path());
    let run = run_bounded(command);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("6000"), "{}", run.stderr);
}

#[test]
fn up_on_postgresql_runs_and_a_missing_database_fails_at_once() {
    let Some(base) = postgres_url("up_on_postgresql") else {
        return;
    };
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database");
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let args = up_args(&ports);

    // A database that does not exist: said at once, not after the pool's 10 s timeout.
    let missing = format!("{prefix}/papertrader_no_such_db_{}", std::process::id());
    let mut command = papertrader();
    command
        .args(&args)
        .args(["--database-url", &missing])
        .current_dir(dir.path());
    let started = Instant::now();
    let run = run_bounded(command);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The README's way: create the database, then `up --database-url postgres://…`.
    let name = format!("papertrader_up_{}_{}", std::process::id(), ports[0]);
    let sql = |statement: String| {
        let mut admin = PgConnection::establish(&base).expect("PAPERTRADER_TEST_POSTGRES_URL");
        diesel::sql_query(statement).execute(&mut admin)
    };
    // CREATE DATABASE takes no bound parameters; the name is made of [a-z0-9_] above.
    sql(format!("CREATE DATABASE {name}")).expect("create the database");
    let url = format!("{prefix}/{name}");
    let mut up_args: Vec<&str> = args.iter().map(String::as_str).collect();
    up_args.extend(["--database-url", &url]);
    let up = Server::start(dir.path(), &up_args, "Press Ctrl-C");
    let user = User {
        home: dir.path().join("home"),
        master: format!("127.0.0.1:{}", ports[0]),
        password: "pw".into(),
    };
    user.ok(&["register", "pg", "--email", "pg@example.com"]);
    user.ok(&["login", "pg"]);
    user.ok(&["buy", "KO", "2"]);
    assert_eq!(
        user.ok(&["portfolio", "--json"]).json()["holdings"][0]["quantity"],
        2
    );
    drop(up);
    let _ = sql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

/// Starts `up` in `dir` on free ports with `extra` arguments; returns it and a user of it.
fn up_with(dir: &std::path::Path, extra: &[&str]) -> (Server, User) {
    let ports = free_ports(3);
    let mut args = up_args(&ports);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let up = Server::start(dir, &args, "Press Ctrl-C");
    let user = User {
        home: dir.join("home"),
        master: format!("127.0.0.1:{}", ports[0]),
        password: "pw".into(),
    };
    (up, user)
}

#[test]
fn up_takes_every_other_master_setting_from_a_master_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("master.toml");
    let interval =
        |user: &User| user.ok(&["assets", "--json"]).json()["update_interval_ms"].clone();
    std::fs::write(
        &config,
        "starting_cash = \"5000.00\"\nupdate_interval_ms = 3000\nmarket_seed = 7\n",
    )
    .unwrap();
    let (up, user) = up_with(dir.path(), &["--master-config", "master.toml"]);
    assert_eq!(interval(&user), 3000);
    user.ok(&["register", "cfg", "--email", "cfg@example.com"]);
    user.ok(&["login", "cfg"]);
    let cash = user.ok(&["--json", "portfolio"]).json()["cash"].clone();
    assert_eq!(cash, "5000.00", "the file's starting cash");
    drop(up);

    // A file that does not set the interval leaves up's own default (2000 ms); a flag wins
    // over the file.
    std::fs::write(&config, "starting_cash = \"5000.00\"\n").unwrap();
    let (up, user) = up_with(dir.path(), &["--master-config", "master.toml"]);
    assert_eq!(interval(&user), 2000);
    drop(up);
    let flagged = [
        "--master-config",
        "master.toml",
        "--update-interval-ms",
        "2500",
    ];
    let (_up, user) = up_with(dir.path(), &flagged);
    assert_eq!(interval(&user), 2500);
}

#[test]
fn up_with_tls_serves_tls_only_and_the_cli_reaches_it_with_the_printed_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, plain_user) = up_with(dir.path(), &["--tls"]);
    let ca = dir.path().join("data/tls/ca.pem");
    assert!(ca.exists());
    let user = User {
        master: format!("tls://{}", plain_user.master),
        ..plain_user
    };
    let with_ca = |args: &[&str]| {
        let mut command = user.command(args);
        command.env("PAPERTRADER_CA_FILE", &ca);
        run_bounded(command)
    };
    let registered = with_ca(&["--json", "register", "tina", "--email", "tina@example.com"]);
    assert_eq!(registered.code, 0, "{}", registered.stderr);
    assert_eq!(with_ca(&["--json", "login", "tina"]).code, 0);
    let bought = with_ca(&["--json", "buy", "AAPL", "2"]);
    assert_eq!(bought.code, 0, "{}", bought.stderr);
    let workers = with_ca(&["--json", "workers"]).json();
    assert!(
        workers[0]["address"]
            .as_str()
            .unwrap()
            .starts_with("tls://"),
        "{workers}"
    );
    // Without the CA, and as plain: each says what to do.
    let no_ca = user.run(&["workers"]);
    assert_ne!(no_ca.code, 0);
    assert!(
        no_ca.stderr.contains("PAPERTRADER_CA_FILE"),
        "{}",
        no_ca.stderr
    );
    let mut plain = User {
        master: user.master.trim_start_matches("tls://").to_owned(),
        ..user
    }
    .command(&["workers"]);
    plain.env_remove("PAPERTRADER_CA_FILE");
    let plain = run_bounded(plain);
    assert_ne!(plain.code, 0);
    assert!(plain.stderr.contains("requires TLS"), "{}", plain.stderr);
}
