//! Third-party login through the CLI against a real cluster and a local OpenID provider:
//! `register --provider`, `login --provider` (token from a file and from stdin), `account`,
//! `passwd` (then the password works too), `unlink`, `link`.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use papertrader_testkit::oidc::TestProvider;

use crate::support::*;

#[test]
fn a_user_signs_up_with_a_provider_adds_a_password_and_manages_identities() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let provider = block_on_bounded(
        &rt,
        Duration::from_secs(60),
        "provider",
        TestProvider::start(),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "oidc_jwks_min_refresh_secs = 0\n\n[[oidc_providers]]\nname = \"local\"\nissuer = \"{}\"\naudiences = [\"{}\"]\n",
        provider.issuer(),
        provider.audience
    );
    std::fs::write(dir.path().join("oidc.toml"), config).unwrap();
    let cluster = Cluster::start(dir.path(), 2, &["--config", "oidc.toml"]);
    let user = User {
        password: String::new(),
        ..cluster.user("olga")
    };
    let token_file = dir.path().join("olga.jwt");
    std::fs::write(&token_file, provider.token("sub-olga")).unwrap();
    let token_path = token_file.to_str().unwrap();

    let registered = user.ok(&[
        "--json",
        "register",
        "olga",
        "--provider",
        "local",
        "--id-token",
        token_path,
    ]);
    assert_eq!(registered.json()["registered"], "olga");

    // The token on standard input; the account's name comes back from the server.
    let mut login = user.command(&["--json", "login", "--provider", "local", "--id-token", "-"]);
    login
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(provider.token("sub-olga").as_bytes())
        .unwrap();
    let logged_in = finish(&mut child, "login --provider");
    assert_eq!(logged_in.code, 0, "{}", logged_in.stderr);
    assert_eq!(logged_in.json()["username"], "olga");

    let account = user.ok(&["--json", "account"]).json();
    assert_eq!(account["has_password"], false);
    assert_eq!(account["identities"][0]["provider"], "local");
    assert_eq!(account["identities"][0]["subject"], "sub-olga");
    assert_eq!(account["email"], "sub-olga@example.com");
    user.ok(&["--json", "buy", "AAPL", "1"]);

    // A password login names the provider to use.
    let mut by_password = user.command(&["login", "olga"]);
    by_password.env("PAPERTRADER_PASSWORD", "not set yet");
    let refused = run_bounded(by_password);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("local"), "{}", refused.stderr);

    // passwd on a password-less account asks only for the new one.
    let mut passwd = user.command(&["--json", "passwd"]);
    passwd.env("PAPERTRADER_NEW_PASSWORD", "olga's new secret");
    let set = run_bounded(passwd);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.json()["changed"], false);
    let mut by_password = user.command(&["--json", "login", "olga"]);
    by_password.env("PAPERTRADER_PASSWORD", "olga's new secret");
    let both = run_bounded(by_password);
    assert_eq!(both.code, 0, "{}", both.stderr);
    assert_eq!(user.ok(&["--json", "account"]).json()["has_password"], true);

    // Changing it from a script: the current password, then the new one, on standard input.
    let mut change = user.command(&["--json", "passwd", "--password-stdin"]);
    change
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = change.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"olga's new secret\nthird secret\n")
        .unwrap();
    let changed = finish(&mut child, "passwd --password-stdin");
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert_eq!(changed.json()["changed"], true);
    // Only the current one given: the missing line is named.
    let mut short = user.command(&["passwd", "--password-stdin"]);
    short
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = short.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"third secret\n")
        .unwrap();
    let short = finish(&mut child, "passwd with one line");
    assert_eq!(short.code, 2, "{}", short.stderr);
    assert!(short.stderr.contains("new password"), "{}", short.stderr);

    // Unlink (a password remains), then the token no longer logs in; link it back.
    user.ok(&["--json", "unlink", "local"]);
    let gone = user.run(&["login", "--provider", "local", "--id-token", token_path]);
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("papertrader register NAME --provider"),
        "{}",
        gone.stderr
    );
    user.ok(&[
        "--json",
        "link",
        "--provider",
        "local",
        "--id-token",
        token_path,
    ]);
    let again = user.ok(&[
        "--json",
        "login",
        "--provider",
        "local",
        "--id-token",
        token_path,
    ]);
    assert_eq!(again.json()["username"], "olga");
    drop(cluster);
}
