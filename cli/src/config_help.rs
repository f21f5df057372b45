//! `papertrader master --print-config` / `worker --print-config`: every setting with what it
//! does, its default and the value in effect, as a TOML file `--config` reads back.
//!
//! What each key does is the doc comment of its field in the server's config struct, read
//! from that source file when this binary is built: the list cannot drift from the struct.

use serde::Serialize;
use toml::{Table, Value};

/// The source of the master's config struct.
pub const MASTER_SOURCE: &str = include_str!("../../master/src/config.rs");
/// The source of the worker's config struct.
pub const WORKER_SOURCE: &str = include_str!("../../worker/src/config.rs");

/// `(key, doc)` of each field of `pub struct NAME` in `source`, in order; the doc is the
/// field's `///` comment joined into one paragraph.
pub fn field_docs(source: &str, name: &str) -> Vec<(String, String)> {
    let start = format!("pub struct {name} {{");
    let mut fields = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    let mut lines = source.lines().skip_while(|l| l.trim() != start).skip(1);
    for line in lines.by_ref() {
        let line = line.trim();
        if line == "}" {
            break;
        }
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim());
        } else if let Some((key, _type)) = line
            .strip_prefix("pub ")
            .and_then(|field| field.split_once(':'))
        {
            fields.push((key.trim().to_owned(), doc.join(" ")));
            doc.clear();
        }
    }
    fields
}

/// The TOML text: a header, then per key its doc, its default and the value in effect (an
/// unset optional key is a comment). `mask` hides secrets in values (a database password).
pub fn render<C: Serialize>(
    title: &str,
    config: &C,
    defaults: &C,
    docs: &[(String, String)],
    mask: &dyn Fn(&str, Value) -> Value,
) -> Result<String, toml::ser::Error> {
    let current = Table::try_from(config)?;
    let defaults = Table::try_from(defaults)?;
    let mut out = String::new();
    for line in wrap(title, 94) {
        out.push_str(&format!("# {line}\n"));
    }
    for (key, doc) in docs {
        out.push('\n');
        for line in wrap(doc, 94) {
            out.push_str(&format!("# {line}\n"));
        }
        let default = match defaults.get(key) {
            Some(value) => mask(key, value.clone()).to_string(),
            None => "unset".to_owned(),
        };
        out.push_str(&format!("# default: {default}\n"));
        match current.get(key) {
            Some(value) => out.push_str(&format!("{key} = {}\n", mask(key, value.clone()))),
            None => out.push_str(&format!("# {key} = (unset)\n")),
        }
    }
    Ok(out)
}

/// A database URL with its password replaced by `***` (`postgres://u:***@host/db`).
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Splits `text` into lines of at most `width` characters (longer words stay whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("lines is never empty");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use papertrader_master::config::MasterConfig;
    use papertrader_worker::config::WorkerConfig;

    use super::*;

    /// Every key the servers read is documented, and only those.
    #[test]
    fn every_key_of_both_servers_has_a_doc() {
        let master = Table::try_from(MasterConfig {
            assets_file: Some("a".into()),
            provider_base_url: Some("b".into()),
            provider_requests_per_minute: Some(1),
            csv_file: Some("c".into()),
            ops_listen: Some(([127, 0, 0, 1], 9090).into()),
            tls_cert_file: Some("d".into()),
            tls_key_file: Some("e".into()),
            ..MasterConfig::default()
        })
        .unwrap();
        let worker = Table::try_from(WorkerConfig {
            link_bind_ip: Some([127, 0, 0, 1].into()),
            ops_listen: Some(([127, 0, 0, 1], 9090).into()),
            server_label: Some("w".into()),
            tls_cert_file: Some("d".into()),
            tls_key_file: Some("e".into()),
            master_ca_file: Some("f".into()),
            ..WorkerConfig::default()
        })
        .unwrap();
        for (table, source, name) in [
            (master, MASTER_SOURCE, "MasterConfig"),
            (worker, WORKER_SOURCE, "WorkerConfig"),
        ] {
            let docs = field_docs(source, name);
            let mut documented: Vec<&str> = docs.iter().map(|(k, _)| k.as_str()).collect();
            let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
            documented.sort_unstable();
            keys.sort_unstable();
            assert_eq!(documented, keys, "{name}");
            for (key, doc) in &docs {
                assert!(doc.len() > 10, "{name}.{key} has no doc: {doc:?}");
            }
        }
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            mask_url_password("postgres://pt:s3cret@db:5432/pt"),
            "postgres://pt:***@db:5432/pt"
        );
        assert_eq!(
            mask_url_password("postgres://pt@db/pt"),
            "postgres://pt@db/pt"
        );
        assert_eq!(
            mask_url_password("data/papertrader.db"),
            "data/papertrader.db"
        );
    }

    #[test]
    fn long_docs_wrap_between_words() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
