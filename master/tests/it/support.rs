//! Shared helpers: a master on an ephemeral port over a fresh database of each backend, and
//! protocol shortcuts.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::Connection as _;
use papertrader_client::{ClientError, Connection};
use papertrader_master::config::MasterConfig;
use papertrader_master::server::{start, RunningMaster};
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::*;
use papertrader_runtime::log::LogSystem;

/// Environment variable naming the PostgreSQL server for the PostgreSQL variants.
pub const POSTGRES_ENV: &str = "PAPERTRADER_TEST_POSTGRES_URL";

/// A fresh, empty database for one test.
pub struct TestDb {
    /// "sqlite" or "postgres".
    pub backend: &'static str,
    /// Its URL.
    pub url: String,
    /// Keeps the SQLite file (and logs) alive.
    pub dir: tempfile::TempDir,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend != "postgres" {
            return;
        }
        let Some((base, name)) = self.url.rsplit_once('/') else {
            return;
        };
        if let Ok(mut admin) = PgConnection::establish(&format!("{base}/postgres")) {
            // Generated name (see fresh_postgres); FORCE ends the test master's pooled connections.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn fresh_postgres(base: &str) -> TestDb {
    let name = format!(
        "pt_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        rand_suffix()
    );
    let mut admin =
        PgConnection::establish(base).unwrap_or_else(|e| panic!("{POSTGRES_ENV}={base}: {e}"));
    // CREATE DATABASE takes no bound parameters; the name is generated above from [a-z0-9_].
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database path");
    TestDb {
        backend: "postgres",
        url: format!("{prefix}/{name}"),
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = dir.path().join("pt.db").to_string_lossy().into_owned();
        TestDb {
            backend: "sqlite",
            url,
            dir,
        }
    }

    /// A fresh database on the PostgreSQL server `PAPERTRADER_TEST_POSTGRES_URL` names.
    pub fn postgres() -> TestDb {
        let base = std::env::var(POSTGRES_ENV)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| panic!("{POSTGRES_ENV} must name a PostgreSQL server"));
        fresh_postgres(&base)
    }
}

/// Runs the database test `async fn NAME(db: TestDb)` on each backend, as two test functions:
/// `NAME::sqlite` and `NAME::postgres`. The PostgreSQL one is *ignored* — which `cargo test`
/// reports, test by test — unless `PAPERTRADER_TEST_POSTGRES_URL` was set when the tests were
/// built (`master/build.rs`); `.ci/run` sets it, so CI runs both.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[actix::test]
            async fn sqlite() {
                super::$name($crate::support::TestDb::sqlite()).await
            }

            #[actix::test]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "the PostgreSQL variant: set PAPERTRADER_TEST_POSTGRES_URL to run it"
            )]
            async fn postgres() {
                super::$name($crate::support::TestDb::postgres()).await
            }
        }
    };
}
pub(crate) use on_both_backends;

/// A test configuration: loopback port 0, fast ticks, cheap bcrypt, short backfill.
pub fn test_config(db: &TestDb) -> MasterConfig {
    MasterConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: db.url.clone(),
        database_pool_size: 4,
        update_interval_ms: 150,
        log_file: db.dir.path().join("master.log"),
        bcrypt_cost: 4,
        backfill_days: 60,
        max_payload: 4096,
        key_file: db.dir.path().join("master.sec.asc"),
        public_key_file: db.dir.path().join("master.pub.asc"),
        direct_clients: true,
        admin_socket: db.dir.path().join("admin.sock"),
        ..MasterConfig::default()
    }
}

/// Starts a master over `db`.
pub async fn master(db: &TestDb) -> RunningMaster {
    master_with(test_config(db)).await
}

/// Starts a master with a given config.
pub async fn master_with(config: MasterConfig) -> RunningMaster {
    let logs = LogSystem::new(&config.log_file, 256);
    start(config, logs).await.expect("master starts")
}

/// A password for `username` as the client sends it.
pub fn pass(username: &str) -> String {
    client_password_hash(username, "correct horse")
}

/// Registers `username` (email `username@example.com`).
pub async fn register(conn: &mut Connection, username: &str) -> Result<Message, ClientError> {
    conn.call(&Message::Register(Register {
        username: username.into(),
        email: format!("{username}@example.com"),
        hashed_password: pass(username),
    }))
    .await
}

/// Logs in; returns the session id.
pub async fn login(
    conn: &mut Connection,
    username: &str,
    is_expirable: bool,
) -> Result<String, ClientError> {
    match conn
        .call(&Message::Login(Login {
            username: username.into(),
            hashed_password: pass(username),
            is_expirable,
        }))
        .await?
    {
        Message::SessionId(t) => Ok(t.session_id),
        other => panic!("unexpected {other:?}"),
    }
}

/// Registers and logs in (expirable).
pub async fn new_user(conn: &mut Connection, username: &str) -> String {
    register(conn, username).await.expect("register");
    login(conn, username, true).await.expect("login")
}

/// Places an order; returns the reply.
pub async fn order(
    conn: &mut Connection,
    buy: bool,
    session: &str,
    symbol: &str,
    quantity: u64,
) -> Result<Message, ClientError> {
    let order = TradeOrder {
        session_id: session.into(),
        symbol: symbol.into(),
        quantity,
        client_order_id: None,
    };
    conn.call(&if buy {
        Message::PurchaseAsset(order)
    } else {
        Message::SellAsset(order)
    })
    .await
}

/// Switches the connection's state.
pub async fn switch(
    conn: &mut Connection,
    session: &str,
    state: ConnectionState,
) -> Result<Message, ClientError> {
    conn.call(&Message::SwitchState(SwitchState {
        session_id: session.into(),
        state,
    }))
    .await
}

/// The reason code of a failed call.
pub fn reason<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ReasonCode {
    match result {
        Err(e) => e
            .reason()
            .unwrap_or_else(|| panic!("not a Fail reply: {e}")),
        Ok(v) => panic!("expected a failure, got {v:?}"),
    }
}

/// A session query message.
pub fn user_query(session: &str, username: &str) -> UserQuery {
    UserQuery {
        session_id: session.into(),
        username: username.into(),
    }
}

/// A master process, killed when dropped.
pub struct Master(pub Child);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `papertrader-master` binary on `db` on a port of its choosing (direct clients
/// on) and returns it with the address it printed once listening.
pub async fn spawn_master(db: &TestDb) -> (Master, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_papertrader-master"))
        .args(["--listen", "127.0.0.1:0"])
        .args(["--database-url", &db.url])
        .args([
            "--log-file",
            &db.dir.path().join("bin.log").to_string_lossy(),
        ])
        .args([
            "--bcrypt-cost",
            "4",
            "--update-interval-ms",
            "150",
            "--direct-clients",
            "true",
        ])
        .args([
            "--key-file",
            &db.dir.path().join("m.sec.asc").to_string_lossy(),
        ])
        .args([
            "--public-key-file",
            &db.dir.path().join("m.pub.asc").to_string_lossy(),
        ])
        .args([
            "--admin-socket",
            &db.dir.path().join("bin.admin.sock").to_string_lossy(),
        ])
        .env_clear()
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn master");
    let stdout = child.stdout.take().expect("stdout");
    let master = Master(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.strip_prefix("papertrader master listening on ") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .expect("join")
        .expect("the master never said where it listens");
    (master, addr.parse().expect("an address"))
}

/// A TCP connection to `to` made from the local address `from` (any 127.x.y.z works on
/// loopback), so a test can be several clients at several addresses.
pub async fn connect_from(from: &str, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::new(from.parse().expect("ip"), 0))
        .expect("bind");
    socket.connect(to).await.expect("connect")
}

/// True once the peer has closed `stream` (reads return end of stream or an error) within
/// `within`; whatever the server had sent before is drained and ignored.
pub async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let drain = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
}

/// `username`'s portfolio as `session` sees it (`conn` is in DataTransfer state).
pub async fn portfolio(conn: &mut Connection, session: &str, username: &str) -> data::Portfolio {
    let request = Message::GetUserPortfolio(user_query(session, username));
    match conn
        .call_data(&request, |_, _| {})
        .await
        .expect("portfolio")
    {
        data::DataBody::Portfolio(p) => p,
        other => panic!("not a portfolio: {other:?}"),
    }
}

/// `username`'s trades as `session` sees them (`conn` is in DataTransfer state).
pub async fn transactions(
    conn: &mut Connection,
    session: &str,
    username: &str,
) -> data::TransactionHistory {
    let request = Message::GetUserTransactionHistory(user_query(session, username));
    match conn
        .call_data(&request, |_, _| {})
        .await
        .expect("transactions")
    {
        data::DataBody::Transactions(t) => t,
        other => panic!("not a transaction history: {other:?}"),
    }
}

/// The master's log file, flushed first.
pub async fn master_log(master: &RunningMaster, db: &TestDb) -> String {
    master
        .log_actor
        .send(papertrader_runtime::log::Flush)
        .await
        .unwrap()
        .unwrap();
    std::fs::read_to_string(db.dir.path().join("master.log")).unwrap()
}

/// A new user with two connections to `addr`: `c` for commands (session `s`) and `d` switched
/// to DataTransfer (its own session `sd`).
pub struct Trader {
    /// The command connection.
    pub c: Connection,
    /// Its session.
    pub s: String,
    /// The data connection.
    pub d: Connection,
    /// Its session.
    pub sd: String,
}

/// Registers `name` and opens its two connections.
pub async fn trader(addr: std::net::SocketAddr, name: &str) -> Trader {
    let mut c = Connection::connect(addr).await.unwrap();
    let mut d = Connection::connect(addr).await.unwrap();
    let s = new_user(&mut c, name).await;
    let sd = login(&mut d, name, true).await.unwrap();
    switch(&mut d, &sd, ConnectionState::DataTransfer)
        .await
        .unwrap();
    Trader { c, s, d, sd }
}

/// A good-till-cancelled limit order.
pub fn limit_order(
    session: &str,
    side: data::Side,
    symbol: &str,
    quantity: u64,
    price: Money,
) -> Message {
    Message::PlaceOrder(PlaceOrder {
        session_id: session.into(),
        side,
        symbol: symbol.into(),
        quantity,
        kind: data::OrderKind::Limit,
        limit_price: Some(price),
        stop_price: None,
        time_in_force: data::TimeInForce::GoodTillCancelled,
        client_order_id: None,
    })
}

/// An account's stored history replayed from its starting cash, commission included.
pub struct Replayed {
    /// The account as stored.
    pub account: papertrader_master::db::accounts::Account,
    /// Its stored holdings.
    pub held: std::collections::HashMap<String, i64>,
    /// Its trades.
    pub trades: Vec<papertrader_master::db::accounts::TransactionRow>,
    /// What does not add up: a step leaving cash or units negative or disagreeing with its
    /// `cash_after`, or final balances unlike the stored ones.
    pub problems: Vec<String>,
}

/// Replays `username`'s transactions from `starting_cash` against its stored balances.
pub fn replay_history(
    c: &mut papertrader_master::db::AnyConnection,
    username: &str,
    starting_cash: i64,
) -> Result<Replayed, papertrader_master::db::DbError> {
    use papertrader_master::db::accounts;
    use std::collections::HashMap;
    let account = accounts::find_by_username(c, username)?.expect("the account exists");
    let trades = accounts::transactions_of(c, account.id)?;
    let held: HashMap<String, i64> = accounts::holdings_of(c, account.id)?.into_iter().collect();
    let mut problems = Vec::new();
    let mut cash = starting_cash;
    let mut position: HashMap<String, i64> = HashMap::new();
    for t in &trades {
        let amount = t.price * t.quantity;
        let p = position.entry(t.symbol.clone()).or_insert(0);
        if t.side == 0 {
            cash -= amount + t.commission;
            *p += t.quantity;
        } else {
            cash += amount - t.commission;
            *p -= t.quantity;
        }
        // No step may go negative (no double sale, no overdraft) or disagree with its record.
        if cash < 0 || *p < 0 || t.cash_after != cash {
            problems.push(format!(
                "{username}: step {t:?} leaves cash {cash}, units {p}"
            ));
        }
    }
    position.retain(|_, q| *q != 0);
    if account.cash != cash || position != held || account.cash < 0 {
        problems.push(format!(
            "{username}: stored {} {held:?}, history {cash} {position:?}",
            account.cash
        ));
    }
    Ok(Replayed {
        account,
        held,
        trades,
        problems,
    })
}
