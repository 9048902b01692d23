//! The client's own promises, against the loopback test server and a raw
//! socket that does not speak HTTP.

use super::*;
use crate::library::testserver::{Faults, TestServer};
use std::io::Write;

fn client() -> HttpClient {
    HttpClient::new(Duration::from_secs(2), Duration::from_secs(2), None)
}

fn body_of(r: Response) -> String {
    let mut out = String::new();
    let mut body = r.body;
    body.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn urls_split_into_host_port_and_target() {
    let u = Url::parse("https://hub.example.cn/v/a.mp4?t=1#x").unwrap();
    assert_eq!((u.https, u.host.as_str(), u.port, u.target.as_str()), (true, "hub.example.cn", 443, "/v/a.mp4?t=1"));
    let u = Url::parse("http://127.0.0.1:8080").unwrap();
    assert_eq!((u.port, u.target.as_str()), (8080, "/"));
    let u = Url::parse("http://[::1]:81/x").unwrap();
    assert_eq!((u.host.as_str(), u.port), ("::1", 81));
}

#[test]
fn urls_the_client_cannot_fetch_are_refused_with_a_reason() {
    for bad in ["ftp://x/y", "http://", "http://u:p@h/x", "http://h:99999/x", "http://h/a b"] {
        assert!(matches!(Url::parse(bad), Err(HttpError::BadUrl { .. })), "{bad}");
        assert!(matches!(client().get(bad, None), Err(HttpError::BadUrl { .. })), "{bad}");
    }
}

#[test]
fn the_request_names_the_host_and_port_and_asks_for_the_range() {
    let s = TestServer::start().unwrap();
    s.add_bytes("/x", b"0123456789".to_vec());
    let r = client().get(&s.url("/x"), Some(4)).unwrap();
    assert_eq!((r.status, r.content_range(), r.content_length), (206, Some((4, 9, Some(10))), Some(6)));
    assert_eq!(body_of(r), "456789");
    let seen = s.seen();
    let port = s.url("").rsplit(':').next().unwrap().to_string();
    assert_eq!(seen[0].host.as_deref(), Some(format!("127.0.0.1:{port}").as_str()));
    assert_eq!(seen[0].range_from, Some(4));
}

#[test]
fn redirect_locations_resolve_against_the_request() {
    let s = TestServer::start().unwrap();
    s.add_bytes("/c.mp4", b"root".to_vec());
    s.add_bytes("/a/c.mp4", b"sibling".to_vec());
    s.add_bytes("/z", b"absolute".to_vec());
    s.add_redirect("/a/b.mp4", "/c.mp4");
    s.add_redirect("/a/rel.mp4", "c.mp4");
    s.add_redirect("/a/abs.mp4", &s.url("/z"));
    let c = client();
    assert_eq!(body_of(c.get(&s.url("/a/b.mp4"), None).unwrap()), "root");
    assert_eq!(body_of(c.get(&s.url("/a/rel.mp4"), None).unwrap()), "sibling");
    assert_eq!(body_of(c.get(&s.url("/a/abs.mp4"), None).unwrap()), "absolute");
}

#[test]
fn a_redirect_loop_stops_with_a_clear_permanent_error() {
    let s = TestServer::start().unwrap();
    s.add_redirect("/loop", "/loop");
    let err = client().get(&s.url("/loop"), None).err().expect("a loop cannot succeed");
    assert!(matches!(err, HttpError::TooManyRedirects(_)), "{err}");
    assert!(!err.is_transient());
    assert_eq!(s.seen().len(), MAX_REDIRECTS as usize + 1);
}

#[test]
fn a_chunked_body_is_decoded_and_stops_at_the_last_chunk() {
    let s = TestServer::start().unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s.add_bytes("/c", data.clone());
    s.set_faults(Faults { chunked: true, ..Default::default() });
    let r = client().get(&s.url("/c"), None).unwrap();
    assert_eq!((r.status, r.content_length, r.header("transfer-encoding")), (200, None, Some("chunked")));
    let mut got = Vec::new();
    let mut body = r.body;
    body.read_to_end(&mut got).unwrap();
    assert_eq!(got, data);
}

#[test]
fn a_response_head_is_parsed_and_a_bad_one_is_refused() {
    assert_eq!(parse_content_range("bytes 10-19/20"), Some((10, 19, Some(20))));
    assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, 9, None)));
    assert_eq!(parse_content_range("items 1-2/3"), None);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"SSH-2.0-OpenSSH\r\n\r\n");
    });
    let err = client().get(&format!("http://{addr}/x"), None).err().expect("not HTTP");
    assert!(matches!(err, HttpError::Protocol { .. }), "{err:?}");
    t.join().unwrap();
}

#[test]
fn a_closed_port_is_a_transient_connect_error() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // The listener is dropped: nothing listens there now.
    let err = client().get(&format!("http://{addr}/x"), None).err().expect("nothing listens");
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn an_unusable_ca_file_fails_https_clearly_but_leaves_http_working() {
    let d = tempfile::tempdir().unwrap();
    let ca = d.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let c = HttpClient::new(Duration::from_secs(2), Duration::from_secs(2), Some(&ca));
    let err = c.get("https://127.0.0.1:1/x", None).err().expect("no roots");
    assert!(matches!(&err, HttpError::Tls(why) if why.contains("ca.pem")), "{err}");
    assert!(!err.is_transient());
    let s = TestServer::start().unwrap();
    s.add_bytes("/x", b"ok".to_vec());
    assert_eq!(body_of(c.get(&s.url("/x"), None).unwrap()), "ok");
}

#[test]
fn a_body_that_stops_arriving_reads_as_a_timeout() {
    let s = TestServer::start().unwrap();
    s.add_bytes("/s", vec![7u8; 50_000]);
    s.set_faults(Faults { stall: Some((10_000, Duration::from_secs(3))), stall_requests: 1, ..Default::default() });
    let c = HttpClient::new(Duration::from_secs(2), Duration::from_millis(200), None);
    let mut body = c.get(&s.url("/s"), None).unwrap().body;
    let mut got = Vec::new();
    let err = body.read_to_end(&mut got).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert_eq!(got.len(), 10_000, "the bytes before the stall arrived");
}
