//! The OpenVPN management interface: `status 3` (tab-separated, columns
//! named by its HEADER line, ending with END) and `client-kill CID HALT`.

use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;

use rras_core::engine_time;

use rras_source::control;

/// One connected client, as `status 3` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Common Name of the client certificate.
    pub common_name: String,
    /// Username (None for UNDEF).
    pub username: Option<String>,
    /// Real Address (the outer endpoint).
    pub real_address: Option<IpAddr>,
    /// Virtual Address.
    pub virtual_ipv4: Option<std::net::Ipv4Addr>,
    /// Virtual IPv6 Address.
    pub virtual_ipv6: Option<std::net::Ipv6Addr>,
    /// Bytes received from the client.
    pub bytes_received: u64,
    /// Bytes sent to the client.
    pub bytes_sent: u64,
    /// Connected Since.
    pub connected_since: Option<SystemTime>,
    /// Client ID (for client-kill).
    pub client_id: u64,
    /// Data Channel Cipher.
    pub cipher: String,
}

/// Errors of a management exchange are the control socket's (`Refused`
/// carries OpenVPN's `ERROR:` line).
pub use rras_source::control::ControlError as ManagementError;

/// Parses the lines of a `status 3` reply.
pub fn parse_status(lines: &[String]) -> Result<Vec<Client>, ManagementError> {
    let header = lines
        .iter()
        .find_map(|l| l.strip_prefix("HEADER\tCLIENT_LIST\t"))
        .ok_or_else(|| ManagementError::Malformed("no CLIENT_LIST header".into()))?;
    let columns: Vec<&str> = header.split('\t').collect();
    let col = |name: &str| columns.iter().position(|c| *c == name);
    let (cn, real, v4, v6, rx, tx, since, user, cid, cipher) = (
        col("Common Name"),
        col("Real Address"),
        col("Virtual Address"),
        col("Virtual IPv6 Address"),
        col("Bytes Received"),
        col("Bytes Sent"),
        col("Connected Since (time_t)"),
        col("Username"),
        col("Client ID"),
        col("Data Channel Cipher"),
    );
    let cid = cid.ok_or_else(|| ManagementError::Malformed("no Client ID column".into()))?;
    let mut out = Vec::new();
    for line in lines {
        let Some(row) = line.strip_prefix("CLIENT_LIST\t") else {
            continue;
        };
        let fields: Vec<&str> = row.split('\t').collect();
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).copied().unwrap_or("");
        let Ok(client_id) = get(Some(cid)).parse() else {
            continue;
        };
        let real_address = get(real);
        // "10.0.0.2:41477", "[2001:db8::2]:1194" or "udp6:…" forms: take the host.
        let host = real_address.rsplit_once(':').map(|(h, _)| h).unwrap_or(real_address);
        let host = host
            .trim_start_matches("udp4:")
            .trim_start_matches("udp6:")
            .trim_start_matches("tcp4-server:");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let username = get(user);
        out.push(Client {
            common_name: get(cn).to_owned(),
            username: (!username.is_empty() && username != "UNDEF").then(|| username.to_owned()),
            real_address: host.parse().ok(),
            virtual_ipv4: get(v4).parse().ok(),
            virtual_ipv6: get(v6).parse().ok(),
            bytes_received: get(rx).parse().unwrap_or(0),
            bytes_sent: get(tx).parse().unwrap_or(0),
            connected_since: get(since)
                .parse::<u64>()
                .ok()
                .and_then(|s| engine_time::from_unix(s, 0)),
            client_id,
            cipher: get(cipher).to_owned(),
        });
    }
    Ok(out)
}

/// Sends one command and reads its reply: lines up to END for `status`,
/// the first SUCCESS:/ERROR: line otherwise. Real-time notifications
/// (`>INFO:`, `>CLIENT:`) interleave and are skipped; lines end in CRLF.
async fn command(socket: &Path, cmd: &str, multi_line: bool) -> Result<Vec<String>, ManagementError> {
    let is_answer = |l: &[u8]| l.starts_with(b"SUCCESS:") || l.starts_with(b"ERROR:");
    let complete = |reply: &[u8]| match control::last_line(reply) {
        Some(l) if multi_line => l == b"END",
        Some(l) => is_answer(l),
        None => false,
    };
    let reply = control::exchange(
        socket,
        format!("{cmd}\n").as_bytes(),
        control::Limits::default(),
        complete,
    )
    .await?;
    let mut out = Vec::new();
    for line in reply.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.starts_with('>') {
            continue;
        }
        if multi_line && line == "END" {
            break;
        }
        out.push(line.to_owned());
        if !multi_line && is_answer(line.as_bytes()) {
            break;
        }
    }
    Ok(out)
}

/// The connected clients.
pub async fn status(socket: &Path) -> Result<Vec<Client>, ManagementError> {
    parse_status(&command(socket, "status 3", true).await?)
}

/// `client-kill CID HALT`: the client is told to exit, not to reconnect.
pub async fn kill(socket: &Path, client_id: u64) -> Result<(), ManagementError> {
    let reply = command(socket, &format!("client-kill {client_id} HALT"), false).await?;
    match reply.last() {
        Some(l) if l.starts_with("SUCCESS:") => Ok(()),
        Some(l) => Err(ManagementError::Refused(l.clone())),
        None => Err(ManagementError::Malformed("no answer to client-kill".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_owned).collect()
    }

    #[test]
    fn parses_status_3() {
        let reply = lines(
            "TITLE\tOpenVPN 2.6.14\nTIME\t2026-11-25 19:33:34\t1795635214\n\
             HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\n\
             CLIENT_LIST\tlab-user1\t10.200.2.2:48886\t10.200.12.2\t\t2340\t2311\t2026-11-25 19:33:33\t1795635213\tuser1\t0\t0\tAES-256-GCM\n\
             CLIENT_LIST\tcert-only\t[2001:db8::9]:1194\t\tfd00::5\t1\t2\tx\t1795635000\tUNDEF\t7\t1\tCHACHA20-POLY1305\n\
             HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\n",
        );
        let clients = parse_status(&reply).unwrap();
        assert_eq!(clients.len(), 2);
        let a = &clients[0];
        assert_eq!(a.username.as_deref(), Some("user1"));
        assert_eq!(a.real_address, Some("10.200.2.2".parse().unwrap()));
        assert_eq!(a.virtual_ipv4, Some("10.200.12.2".parse().unwrap()));
        assert_eq!((a.bytes_received, a.bytes_sent, a.client_id), (2340, 2311, 0));
        assert_eq!(a.connected_since, Some(UNIX_EPOCH + Duration::from_secs(1_795_635_213)));
        let b = &clients[1];
        assert_eq!(b.username, None);
        assert_eq!(b.real_address, Some("2001:db8::9".parse().unwrap()));
        assert_eq!(b.virtual_ipv6, Some("fd00::5".parse().unwrap()));
        assert_eq!(b.client_id, 7);
    }

    #[test]
    fn extreme_numbers_do_not_panic() {
        let header = "HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher";
        for since in ["18446744073709551615", "253402300800", "-5", "1e9"] {
            let reply = lines(&format!(
                "{header}\nCLIENT_LIST\tx\t1.2.3.4:5\t\t\t18446744073709551615\t18446744073709551616\tx\t{since}\tu\t18446744073709551615\t0\tc\n"
            ));
            let clients = parse_status(&reply).unwrap();
            assert_eq!(clients[0].connected_since, None, "{since}");
            assert_eq!((clients[0].bytes_received, clients[0].bytes_sent), (u64::MAX, 0));
        }
    }

    #[test]
    fn no_header_is_an_error() {
        assert!(parse_status(&lines("TITLE\tx\n")).is_err());
    }
}
