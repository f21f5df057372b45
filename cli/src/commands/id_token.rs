//! Reading an OpenID Connect ID token: `--provider NAME --id-token FILE`, or `--id-token -` for
//! standard input. The token is obtained from the provider beforehand (docs/OPERATIONS.md,
//! *Third-party login*, says how); it is sent as read, never printed.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use crate::failed::Failed;

/// A provider and an ID token from it.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The identity provider, as the master names it (e.g. google).
    #[arg(long, requires = "id_token")]
    pub provider: Option<String>,
    /// A file holding the provider's ID token, or - for standard input.
    #[arg(long, value_name = "FILE|-", requires = "provider")]
    pub id_token: Option<PathBuf>,
}

/// A provider name and the token read from where the arguments say.
#[derive(Debug, Clone)]
pub struct IdToken {
    /// Provider.
    pub provider: String,
    /// The compact JWS.
    pub token: String,
}

impl TokenArgs {
    /// The token, if `--provider` was given; reading it may fail.
    pub fn read(&self) -> Result<Option<IdToken>, Failed> {
        let (Some(provider), Some(source)) = (&self.provider, &self.id_token) else {
            return Ok(None);
        };
        let mut text = String::new();
        let read = if source.as_os_str() == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::File::open(source).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
        };
        read.map_err(|e| {
            Failed::usage(format!(
                "reading the ID token from {}: {e}",
                source.display()
            ))
        })?;
        let token = text.trim().to_owned();
        if papertrader_protocol::limits::check_id_token(&token).is_err() {
            return Err(Failed::usage(format!(
                "{} holds no ID token: expected a compact JWS (three base64url parts joined by \
                 dots, eyJ…), as the provider's token response gives in id_token",
                source.display()
            )));
        }
        Ok(Some(IdToken {
            provider: provider.clone(),
            token,
        }))
    }
}
