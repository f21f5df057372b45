//! Reading a password: `--password-stdin`, else `PAPERTRADER_PASSWORD`, else a prompt without
//! echo on the terminal. An empty password is refused before anything is sent.

use clap::Args;

use crate::failed::Failed;

/// How the password is read.
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input (for scripts; so does
    /// PAPERTRADER_PASSWORD). Without either, it is asked for on the terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Whether a password typed at the prompt is asked for a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Once (logging in).
    Once,
    /// Twice, and both must match (choosing one at `register`).
    Twice,
}

/// Reads the password as `args` says; `prompt` says whether a typed one is asked twice.
pub fn read(args: &PasswordArgs, prompt: Prompt) -> Result<String, Failed> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failed::usage(format!("reading the password from standard input: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Some(value) = std::env::var_os("PAPERTRADER_PASSWORD") {
        value
            .into_string()
            .map_err(|_| Failed::usage("PAPERTRADER_PASSWORD is not valid UTF-8"))?
    } else {
        ask(prompt)?
    };
    if password.is_empty() {
        return Err(Failed::usage(
            "the password is empty: an account needs a password of at least one character",
        ));
    }
    Ok(password)
}

/// Asks on the terminal, without echo.
fn ask(prompt: Prompt) -> Result<String, Failed> {
    if !has_terminal() {
        return Err(Failed::usage(
            "no terminal to ask for the password on: give it on standard input with \
             --password-stdin, or in PAPERTRADER_PASSWORD",
        ));
    }
    let read = |text: &str| {
        rpassword::prompt_password(text)
            .map_err(|e| Failed::usage(format!("reading the password: {e}")))
    };
    let password = read("Password: ")?;
    if prompt == Prompt::Twice && !password.is_empty() && read("Password again: ")? != password {
        return Err(Failed::usage(
            "the two passwords differ; nothing was sent, try again",
        ));
    }
    Ok(password)
}

/// True when there is a terminal to prompt on (the prompt uses the controlling terminal, not
/// standard input, so `cmd < file` still prompts).
fn has_terminal() -> bool {
    #[cfg(unix)]
    {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok()
    }
    #[cfg(not(unix))]
    {
        use std::io::IsTerminal;
        std::io::stdin().is_terminal()
    }
}
