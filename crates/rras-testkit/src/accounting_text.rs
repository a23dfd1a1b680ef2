//! `Accounting`: the one builder of RADIUS Accounting-Requests in the
//! tests, as radclient's text (one `Attribute = value` per line). Every
//! request names its status, session and user and comes from NAS
//! 127.0.0.1; the rest is added by what a test needs.

use std::fmt;

/// One Accounting-Request in radclient's text form.
#[derive(Debug, Clone)]
pub struct Accounting {
    lines: Vec<String>,
}

impl Accounting {
    /// `status` (Start, Interim-Update, Stop) of session `session` of
    /// `user`, from NAS-IP-Address 127.0.0.1.
    pub fn new(status: &str, session: &str, user: &str) -> Self {
        Accounting {
            lines: vec![
                format!("User-Name = \"{user}\""),
                format!("Acct-Session-Id = \"{session}\""),
                "NAS-IP-Address = 127.0.0.1".to_owned(),
                format!("Acct-Status-Type = {status}"),
            ],
        }
    }

    /// From NAS-IP-Address `ip` instead of 127.0.0.1.
    pub fn nas_ip(mut self, ip: &str) -> Self {
        self.lines[2] = format!("NAS-IP-Address = {ip}");
        self
    }

    /// A PPP session on NAS port `port` with IPv4 address `ip`.
    pub fn ppp(self, port: u32, ip: &str) -> Self {
        self.attr("NAS-Port", port)
            .attr("Framed-Protocol", "PPP")
            .attr("Framed-IP-Address", ip)
    }

    /// Tunnel-Type L2TP (RDT_Tunnel_L2tp).
    pub fn l2tp(self) -> Self {
        self.attr("Tunnel-Type:1", "L2TP")
    }

    /// Any attribute, its value as radclient reads it (quote strings).
    pub fn attr(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.lines.push(format!("{name} = {value}"));
        self
    }

    /// Several requests, in order, as one radclient input.
    pub fn all(requests: impl IntoIterator<Item = Accounting>) -> String {
        requests.into_iter().map(|r| format!("{r}\n")).collect()
    }
}

impl fmt::Display for Accounting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
