//! The client commands, one module each with its arguments and its rendering, and the one
//! dispatch point, [`ClientCommand::run`].

pub mod account;
pub mod assets;
pub mod common;
pub mod equity;
pub mod history;
pub mod id_token;
pub mod identities;
pub mod info;
pub mod login;
pub mod logout;
pub mod orders;
pub mod passwd;
pub mod password;
pub mod periods;
pub mod portfolio;
pub mod quote;
pub mod register;
pub mod trade;
pub mod trades;
pub mod watch;
pub mod workers;

use clap::Subcommand;
use papertrader_protocol::data::Side;

use crate::failed::Failed;
use crate::output::Output;

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an account (with a password, or with a third-party identity).
    Register(register::RegisterArgs),
    /// Log in (password or third-party ID token) and remember the session.
    Login(login::LoginArgs),
    /// End the session and forget it.
    Logout(logout::LogoutArgs),
    /// The online workers.
    Workers(workers::WorkersArgs),
    /// The traded assets: symbols and names (no login needed).
    Assets(assets::AssetsArgs),
    /// Latest prices.
    Quote(quote::QuoteArgs),
    /// Live prices at every price update (and your fills with --fills), until Ctrl-C.
    Watch(watch::WatchArgs),
    /// An asset's name and latest price.
    Info(info::InfoArgs),
    /// Price history.
    History(history::HistoryArgs),
    /// Buy at the next price update.
    Buy(trade::TradeArgs),
    /// Sell at the next price update.
    Sell(trade::TradeArgs),
    /// Place an order that rests until a price update fills it: market, limit (--limit),
    /// stop (--stop) or stop-limit (both), with a time in force.
    Order(orders::OrderArgs),
    /// Your open orders (--all: every order, with how each ended).
    Orders(orders::OrdersArgs),
    /// Cancel an open order (what had filled stays filled).
    Cancel(orders::CancelArgs),
    /// Start your account over at the starting cash (needs --yes); the old period stays
    /// readable.
    Reset(periods::ResetArgs),
    /// Your trading periods (resets end them), or one period's trades (--trades N).
    Periods(periods::PeriodsArgs),
    /// Your equity (cash + holdings) over time, as a chart.
    Equity(equity::EquityArgs),
    /// Holdings and their value (and cash, for your own).
    Portfolio(portfolio::PortfolioArgs),
    /// Settled trades (with cash after each, for your own).
    Trades(trades::TradesArgs),
    /// Your account: profile, cash and how you sign in.
    Account(account::AccountArgs),
    /// Set or change your password (a third-party-only account gains one).
    ///
    /// The current password is asked for only when the account has one. From a script: with
    /// --password-stdin the current password is the first line (only when there is one) and
    /// the new one the next; or PAPERTRADER_PASSWORD (current) and PAPERTRADER_NEW_PASSWORD
    /// (new).
    Passwd(passwd::PasswdArgs),
    /// Let a third-party identity (an OpenID Connect ID token) log in to your account too.
    Link(identities::LinkArgs),
    /// Remove a third-party identity from your account (never its last way in).
    Unlink(identities::UnlinkArgs),
}

impl ClientCommand {
    /// True when the command's own `--json` was given.
    pub fn json(&self) -> bool {
        match self {
            ClientCommand::Register(args) => args.output.json,
            ClientCommand::Login(args) => args.output.json,
            ClientCommand::Logout(args) => args.output.json,
            ClientCommand::Workers(args) => args.output.json,
            ClientCommand::Assets(args) => args.output.json,
            ClientCommand::Quote(args) => args.output.json,
            ClientCommand::Watch(args) => args.output.json,
            ClientCommand::Info(args) => args.output.json,
            ClientCommand::History(args) => args.output.json,
            ClientCommand::Buy(args) | ClientCommand::Sell(args) => args.output.json,
            ClientCommand::Order(args) => args.output.json,
            ClientCommand::Orders(args) => args.output.json,
            ClientCommand::Cancel(args) => args.output.json,
            ClientCommand::Reset(args) => args.output.json,
            ClientCommand::Periods(args) => args.output.json,
            ClientCommand::Equity(args) => args.output.json,
            ClientCommand::Portfolio(args) => args.output.json,
            ClientCommand::Trades(args) => args.output.json,
            ClientCommand::Account(args) => args.output.json,
            ClientCommand::Passwd(args) => args.output.json,
            ClientCommand::Link(args) => args.output.json,
            ClientCommand::Unlink(args) => args.output.json,
        }
    }

    /// Runs the command.
    pub async fn run(self, out: Output) -> Result<(), Failed> {
        match self {
            ClientCommand::Register(args) => register::run(args, out).await,
            ClientCommand::Login(args) => login::run(args, out).await,
            ClientCommand::Logout(args) => logout::run(args, out).await,
            ClientCommand::Workers(args) => workers::run(args, out).await,
            ClientCommand::Assets(args) => assets::run(args, out).await,
            ClientCommand::Quote(args) => quote::run(args, out).await,
            ClientCommand::Watch(args) => watch::run(args, out).await,
            ClientCommand::Info(args) => info::run(args, out).await,
            ClientCommand::History(args) => history::run(args, out).await,
            ClientCommand::Buy(args) => trade::run(Side::Buy, args, out).await,
            ClientCommand::Sell(args) => trade::run(Side::Sell, args, out).await,
            ClientCommand::Order(args) => orders::place(args, out).await,
            ClientCommand::Orders(args) => orders::list(args, out).await,
            ClientCommand::Cancel(args) => orders::cancel(args, out).await,
            ClientCommand::Reset(args) => periods::reset(args, out).await,
            ClientCommand::Periods(args) => periods::list(args, out).await,
            ClientCommand::Equity(args) => equity::run(args, out).await,
            ClientCommand::Portfolio(args) => portfolio::run(args, out).await,
            ClientCommand::Trades(args) => trades::run(args, out).await,
            ClientCommand::Account(args) => account::run(args, out).await,
            ClientCommand::Passwd(args) => passwd::run(args, out).await,
            ClientCommand::Link(args) => identities::link(args, out).await,
            ClientCommand::Unlink(args) => identities::unlink(args, out).await,
        }
    }
}
