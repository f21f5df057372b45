//! Source addresses for a load of many connections to a loopback target.
//!
//! Servers cap connections per client address (256 on the master, 512 on a worker), as they
//! should; a benchmark of thousands of clients on one machine spreads its connections over
//! 127.0.0.x, as many clients on many hosts would be, instead of hitting that cap.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// Connections per source address.
pub const PER_ADDRESS: usize = 200;

/// The loopback source of connection `index`: 127.0.0.1 for the first [`PER_ADDRESS`], then
/// 127.0.0.2, and so on.
pub fn source_of(index: usize) -> Ipv4Addr {
    let n = index / PER_ADDRESS;
    Ipv4Addr::new(127, 0, (n / 254) as u8, (1 + n % 254) as u8)
}

/// Connects to `target` as connection `index`, from [`source_of`] it when the target is an
/// IPv4 loopback address.
pub async fn connect(target: &str, index: usize) -> std::io::Result<TcpStream> {
    let addr: SocketAddr = tokio::net::lookup_host(target)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{target} resolves to no address")))?;
    let socket = match addr.ip() {
        IpAddr::V4(ip) => {
            let socket = TcpSocket::new_v4()?;
            if ip.is_loopback() {
                socket.bind(SocketAddr::new(IpAddr::V4(source_of(index)), 0))?;
            }
            socket
        }
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_holds_at_most_per_address_connections() {
        assert_eq!(source_of(0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_of(PER_ADDRESS - 1), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_of(PER_ADDRESS), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source_of(254 * PER_ADDRESS), Ipv4Addr::new(127, 0, 1, 1));
    }
}
