//! What the balancer reads of a request, rendered as the real client sends it: the session
//! cookie (PHPSESSID as 16 hex digits, or Tomcat's JSESSIONID `<id>.<route>`), the URI, the
//! balancer's own persistence cookie. Rendered only for the policies that read them
//! ([`Needs`]), into stack buffers: no allocation per request.

use super::{ClientInfo, Needs, ServerConf};
use std::net::IpAddr;

/// The URI of a request, before rendering.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Uri<'a> {
    /// A modelled page: `/page/<n>`.
    Page(u32),
    /// A replayed log's path.
    Path(&'a str),
}

/// The facts about a request and its client that the balancer may read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// The client's address.
    pub addr: IpAddr,
    /// The client's session, if it holds one.
    pub session: Option<u64>,
    /// Whether the client keeps cookies (without, it sends neither cookie).
    pub accepts_cookies: bool,
    /// The server that created the session (its route is JSESSIONID's suffix).
    pub session_node: Option<u8>,
    /// The server whose persistence cookie the client holds.
    pub server_cookie: Option<u8>,
    /// The URI; `None` renders `/` (give it only when the policy reads it).
    pub uri: Option<Uri<'a>>,
}

/// Longest `<hex16>.<route>` session id rendered; longer routes are cut (Apache's own limit
/// is 63 bytes).
const ROUTED_SID_MAX: usize = 96;

/// Stack buffers a [`ClientInfo`] is rendered into.
pub(crate) struct ClientText {
    sid: [u8; 16],
    uri: [u8; 16],
    routed: [u8; ROUTED_SID_MAX],
}

impl ClientText {
    /// Empty buffers.
    #[inline]
    pub(crate) fn new() -> Self {
        ClientText {
            sid: [0; 16],
            uri: [0; 16],
            routed: [0; ROUTED_SID_MAX],
        }
    }

    /// The request as a balancer with `needs` and `servers` sees it.
    #[inline]
    pub(crate) fn render<'b>(&'b mut self, needs: Needs, servers: &'b [ServerConf], r: Request<'b>) -> ClientInfo<'b> {
        let session_cookie = match r.session {
            Some(sid) if needs.session_cookie && r.accepts_cookies => Some(hex16(sid, &mut self.sid)),
            Some(sid) if needs.session_route && r.accepts_cookies => {
                let route = r
                    .session_node
                    .and_then(|n| servers.get(usize::from(n)))
                    .and_then(|s| s.cookie.as_deref())
                    .unwrap_or("");
                Some(routed_sid(sid, route, &mut self.routed))
            }
            _ => None,
        };
        let uri = match r.uri {
            Some(Uri::Page(n)) => page_uri(n, &mut self.uri),
            Some(Uri::Path(p)) => p,
            None => "/",
        };
        let server_cookie = match r.server_cookie {
            Some(i) if needs.server_cookie => servers.get(usize::from(i)).and_then(|s| s.cookie.as_deref()),
            _ => None,
        };
        ClientInfo {
            addr: r.addr,
            session_cookie,
            uri,
            server_cookie,
        }
    }
}

/// `sid` as 16 lowercase hex digits: the PHPSESSID value nginx's `hash $cookie_PHPSESSID` reads.
#[inline]
fn hex16(sid: u64, buf: &mut [u8; 16]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, c) in buf.iter_mut().enumerate() {
        *c = HEX[((sid >> (60 - 4 * i)) & 0xF) as usize];
    }
    std::str::from_utf8(buf).unwrap_or("")
}

/// `sid` as Tomcat's JSESSIONID with a `jvmRoute`: 16 hex digits, `.`, the route of the
/// server that created the session (Apache `stickysession` reads the suffix).
fn routed_sid<'b>(sid: u64, route: &str, buf: &'b mut [u8; ROUTED_SID_MAX]) -> &'b str {
    let mut hex = [0u8; 16];
    buf[..16].copy_from_slice(hex16(sid, &mut hex).as_bytes());
    buf[16] = b'.';
    let mut n = route.len().min(ROUTED_SID_MAX - 17);
    while !route.is_char_boundary(n) {
        n -= 1;
    }
    buf[17..17 + n].copy_from_slice(&route.as_bytes()[..n]);
    std::str::from_utf8(&buf[..17 + n]).unwrap_or("")
}

/// `/page/<n>`: the URI nginx's `hash $request_uri` reads.
#[inline]
fn page_uri(n: u32, buf: &mut [u8; 16]) -> &str {
    const PREFIX: &[u8] = b"/page/";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut k = digits.len();
    let mut v = n;
    loop {
        k -= 1;
        digits[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = PREFIX.len() + digits.len() - k;
    buf[PREFIX.len()..len].copy_from_slice(&digits[k..]);
    std::str::from_utf8(&buf[..len]).unwrap_or("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_attributes_render_without_allocating() {
        let mut b = [0u8; 16];
        assert_eq!(hex16(0x0123_4567_89ab_cdef, &mut b), "0123456789abcdef");
        let mut u = [0u8; 16];
        assert_eq!(page_uri(0, &mut u), "/page/0");
        assert_eq!(page_uri(u32::MAX, &mut u), "/page/4294967295");
        let mut r = [0u8; ROUTED_SID_MAX];
        assert_eq!(routed_sid(0xff, "node1", &mut r), "00000000000000ff.node1");
    }
}
