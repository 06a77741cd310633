//! [`TrustedProxies`]: the load balancers allowed to send a PROXY protocol header, by the
//! transport's peer address. Address ranges are parsed and matched by the `ipnet` crate.

use std::{fmt, net::IpAddr, sync::Arc};

use ipnet::IpNet;

/// The load balancers a server takes a PROXY protocol header from, by the transport's peer
/// address: address ranges, a predicate, or every peer.
///
/// IPv4 peers seen through an IPv6 socket (`::ffff:10.0.0.5`) are matched as the IPv4
/// address they are, and so are IPv4-mapped ranges (`::ffff:10.0.0.0/104` is `10.0.0.0/8`). A peer without an IP address (a Unix socket's, or one the server was not
/// told) is trusted only by [`TrustedProxies::any`].
///
/// # Examples
///
/// ```
/// use tokio_tls_handshake::proxy::TrustedProxies;
///
/// let balancers = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8", "192.0.2.7"])?;
/// assert!(balancers.allows(Some("10.1.2.3".parse()?)));
/// assert!(balancers.allows(Some("::ffff:10.1.2.3".parse()?)));
/// assert!(!balancers.allows(Some("203.0.113.9".parse()?)));
/// assert!(!balancers.allows(None));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TrustedProxies(Trust);

#[derive(Clone)]
enum Trust {
    Any,
    Ranges(Vec<IpNet>),
    Predicate(Arc<dyn Fn(IpAddr) -> bool + Send + Sync>),
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Trust::Any => f.write_str("TrustedProxies(any)"),
            Trust::Ranges(ranges) => f.debug_tuple("TrustedProxies").field(ranges).finish(),
            Trust::Predicate(_) => f.write_str("TrustedProxies(predicate)"),
        }
    }
}

impl TrustedProxies {
    /// Every peer that connects is a trusted balancer. Only for a port that clients cannot
    /// reach except through the balancer (a private network, a firewall rule, a Unix socket
    /// only the balancer may open): anyone else who reaches it can claim any client address.
    pub fn any() -> Self {
        Self(Trust::Any)
    }

    /// The balancers in these ranges: CIDR ranges (`10.0.0.0/8`, `fd00::/8`) or single
    /// addresses (`192.0.2.7`, `::1`).
    ///
    /// # Errors
    ///
    /// [`AddressRangeError`] naming the first entry that is neither.
    pub fn parse<I, S>(ranges: I) -> Result<Self, AddressRangeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut all = Vec::new();
        for entry in ranges {
            let entry = entry.as_ref().trim();
            let range = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| AddressRangeError {
                    entry: entry.to_owned(),
                })?;
            all.extend(canonical(range.trunc()));
        }
        Ok(Self(Trust::Ranges(all)))
    }

    /// The balancers for which `trusted` returns `true`, for rules ranges cannot express
    /// (addresses looked up at start-up, a set that changes while serving).
    pub fn from_fn(trusted: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        Self(Trust::Predicate(Arc::new(trusted)))
    }

    /// Whether a transport whose peer is `peer` may send a header (`None`: a peer without an
    /// IP address, or one not known).
    pub fn allows(&self, peer: Option<IpAddr>) -> bool {
        let peer = peer.map(|ip| ip.to_canonical());
        match (&self.0, peer) {
            (Trust::Any, _) => true,
            (_, None) => false,
            (Trust::Ranges(ranges), Some(ip)) => ranges.iter().any(|range| range.contains(&ip)),
            (Trust::Predicate(trusted), Some(ip)) => trusted(ip),
        }
    }
}

/// `range` as peers are matched: canonical. An IPv4-mapped range (`::ffff:a.b.c.d/n`, n at
/// least 96) is the IPv4 range it maps; a wider IPv6 range that holds every IPv4-mapped
/// address (`::/0`) holds every IPv4 address too.
fn canonical(range: IpNet) -> Vec<IpNet> {
    const MAPPED_PREFIX: u8 = 96;
    let IpNet::V6(v6) = range else {
        return vec![range];
    };
    let mapped_space = ipnet::Ipv6Net::new(
        std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
        MAPPED_PREFIX,
    );
    match (v6.addr().to_ipv4_mapped(), mapped_space) {
        (Some(v4), _) if v6.prefix_len() >= MAPPED_PREFIX => {
            ipnet::Ipv4Net::new(v4, v6.prefix_len() - MAPPED_PREFIX)
                .map_or_else(|_| vec![range], |net| vec![IpNet::V4(net)])
        }
        (_, Ok(space)) if v6.contains(&space) => {
            vec![range, IpNet::V4(ipnet::Ipv4Net::default())]
        }
        _ => vec![range],
    }
}

/// An entry of [`TrustedProxies::parse`] that is neither a CIDR range nor an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRangeError {
    entry: String,
}

impl AddressRangeError {
    /// The entry, as given.
    pub fn entry(&self) -> &str {
        &self.entry
    }
}

impl fmt::Display for AddressRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an IP address or CIDR range: {:?}", self.entry)
    }
}

impl std::error::Error for AddressRangeError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn ranges_match_their_members_only() {
        let trusted =
            TrustedProxies::parse(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]).expect("ranges");
        for member in ["10.0.0.1", "10.255.255.255", "2001:db8::5", "192.0.2.7"] {
            assert!(trusted.allows(ip(member)), "{member}");
        }
        for other in ["11.0.0.1", "192.0.2.8", "2001:db9::1", "::1"] {
            assert!(!trusted.allows(ip(other)), "{other}");
        }
        assert!(!trusted.allows(None), "no address, no trust");
    }

    /// The defect: an IPv4-mapped range never matched, since peers are made canonical.
    #[test]
    fn ipv4_mapped_ranges_match_as_ipv4() {
        let trusted = TrustedProxies::parse(["::ffff:10.0.0.0/104"]).expect("range");
        for member in ["10.1.2.3", "::ffff:10.1.2.3"] {
            assert!(trusted.allows(ip(member)), "{member}");
        }
        for other in ["11.1.2.3", "::ffff:11.1.2.3", "::1"] {
            assert!(!trusted.allows(ip(other)), "{other}");
        }
        let everything = TrustedProxies::parse(["::/0"]).expect("range");
        for member in ["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"] {
            assert!(everything.allows(ip(member)), "{member}");
        }
        let one = TrustedProxies::parse(["::ffff:192.0.2.7"]).expect("address");
        assert!(one.allows(ip("192.0.2.7")));
        assert!(!one.allows(ip("192.0.2.8")));
    }

    #[test]
    fn ipv4_mapped_peers_match_as_ipv4() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).expect("range");
        assert!(trusted.allows(ip("::ffff:10.1.2.3")));
        assert!(!trusted.allows(ip("::ffff:11.1.2.3")));
    }

    #[test]
    fn host_bits_in_a_range_are_ignored_and_bad_entries_are_named() {
        let trusted = TrustedProxies::parse(["10.1.2.3/8"]).expect("range");
        assert!(trusted.allows(ip("10.200.0.1")));
        let error =
            TrustedProxies::parse(["10.0.0.0/8", "balancer.internal"]).expect_err("not a range");
        assert_eq!(error.entry(), "balancer.internal");
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err());
    }

    #[test]
    fn any_trusts_even_an_unknown_peer_and_a_predicate_decides() {
        assert!(TrustedProxies::any().allows(None));
        let odd =
            TrustedProxies::from_fn(|ip| matches!(ip, IpAddr::V4(v4) if v4.octets()[3] % 2 == 1));
        assert!(odd.allows(ip("10.0.0.1")));
        assert!(!odd.allows(ip("10.0.0.2")));
        assert!(!odd.allows(None));
    }
}
