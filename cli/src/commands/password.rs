//! Reading a password: `--password-stdin`, else an environment variable
//! (`PAPERTRADER_PASSWORD`), else a prompt without echo on the terminal. An empty password is
//! refused before anything is sent.

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

/// Which password is read, and where it may come from besides standard input.
#[derive(Debug, Clone, Copy)]
pub struct Which {
    /// The environment variable holding it.
    pub env: &'static str,
    /// The prompt.
    pub label: &'static str,
    /// Whether a typed one is asked twice.
    pub prompt: Prompt,
}

/// The account's password (`login`, `register`, the current one at `passwd`).
pub const PASSWORD: Which = Which {
    env: "PAPERTRADER_PASSWORD",
    label: "Password",
    prompt: Prompt::Once,
};

/// Reads the password as `args` says; `prompt` says whether a typed one is asked twice.
pub fn read(args: &PasswordArgs, prompt: Prompt) -> Result<String, Failed> {
    read_which(args, Which { prompt, ..PASSWORD })
}

/// Reads a password: the next line of standard input with `--password-stdin`, else the
/// variable `which.env`, else a prompt.
pub fn read_which(args: &PasswordArgs, which: Which) -> Result<String, Failed> {
    let password = if args.password_stdin {
        let mut line = String::new();
        let read = std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failed::usage(format!("reading the password from standard input: {e}")))?;
        if read == 0 {
            return Err(Failed::usage(format!(
                "standard input ended before the {} (one password per line)",
                which.label.to_lowercase()
            )));
        }
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Some(value) = std::env::var_os(which.env) {
        value
            .into_string()
            .map_err(|_| Failed::usage(format!("{} is not valid UTF-8", which.env)))?
    } else {
        ask(which)?
    };
    if password.is_empty() {
        return Err(Failed::usage(
            "the password is empty: an account needs a password of at least one character",
        ));
    }
    Ok(password)
}

/// Asks on the terminal, without echo.
fn ask(which: Which) -> Result<String, Failed> {
    if !has_terminal() {
        return Err(Failed::usage(format!(
            "no terminal to ask for the password on: give it on standard input with \
             --password-stdin, or in {}",
            which.env
        )));
    }
    let read = |text: &str| {
        rpassword::prompt_password(text)
            .map_err(|e| Failed::usage(format!("reading the password: {e}")))
    };
    let password = read(&format!("{}: ", which.label))?;
    if which.prompt == Prompt::Twice
        && !password.is_empty()
        && read(&format!("{} again: ", which.label))? != password
    {
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
