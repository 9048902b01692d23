//! The hub connection test, one line per layer so a technician sees where it
//! breaks: DNS (through the injectable resolver), TCP, TLS (handshake with the
//! configured CA and client certificate) and MQTT (CONNECT with rumqttc, as the
//! uplink does). Provisioning calls the same probe. It connects with its own
//! client id (`...-doctor`) so it never kicks the running kiosk off the hub,
//! and it publishes nothing.

use super::{Check, DoctorEnv, Resolver, Verdict};
use crate::provision::{tls, DeviceSettings, HubUrl, TlsFiles};
use rumqttc::tokio_rustls::{rustls::pki_types::ServerName, TlsConnector};
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, Transport};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Everything needed to log in to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubTarget {
    pub url: HubUrl,
    pub tls: TlsFiles,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The device's own client id; the probe appends `-doctor`.
    pub client_id: String,
}

impl HubTarget {
    /// The hub target of provisioned settings, or why there is none.
    pub fn from_settings(s: &DeviceSettings) -> Result<HubTarget, String> {
        let url = s.hub_url.as_deref().ok_or("hub.url is not set: run `microclass provision`")?;
        let url = crate::provision::validate::parse_hub_url(url).map_err(|e| format!("hub.url: {e}"))?;
        Ok(HubTarget {
            url,
            tls: s.tls.clone(),
            username: s.username.clone(),
            password: s.password.clone(),
            client_id: s.client_id().unwrap_or_else(|| "microclass".into()),
        })
    }
}

/// Runs the four steps; a step after a failed one is SKIP.
pub fn probe(target: &HubTarget, resolver: &dyn Resolver, timeout: Duration) -> Vec<Check> {
    let mut out = Vec::with_capacity(4);
    let addrs = match dns(target, resolver) {
        Ok((c, addrs)) => {
            out.push(c);
            addrs
        }
        Err(c) => return finish(out, c, &["hub.tcp", "hub.tls", "hub.mqtt"]),
    };
    let stream = match tcp(&addrs, timeout) {
        Ok((c, s)) => {
            out.push(c);
            s
        }
        Err(c) => return finish(out, c, &["hub.tls", "hub.mqtt"]),
    };
    // A small runtime of our own: callers (CLI, wizard) are synchronous, and a
    // separate thread keeps this usable even from inside another runtime.
    let target2 = target.clone();
    let result = std::thread::scope(|s| {
        s.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match rt {
                Ok(rt) => rt.block_on(tls_and_mqtt(&target2, stream, timeout)),
                Err(e) => vec![Check::fail("hub.tls", format!("cannot start the network runtime: {e}"), "")],
            }
        })
        .join()
        .unwrap_or_else(|_| vec![Check::fail("hub.tls", "probe thread panicked", "report this as a bug")])
    });
    out.extend(result);
    out
}

fn finish(mut out: Vec<Check>, failed: Check, skipped: &[&str]) -> Vec<Check> {
    out.push(failed);
    out.extend(skipped.iter().map(|id| Check::skip(id, "not tried: an earlier step failed")));
    out
}

fn dns(t: &HubTarget, resolver: &dyn Resolver) -> Result<(Check, Vec<SocketAddr>), Check> {
    if let Ok(ip) = t.url.host.parse::<std::net::IpAddr>() {
        return Ok((Check::ok("hub.dns", format!("{ip} is an address: no lookup needed")), vec![SocketAddr::new(ip, t.url.port)]));
    }
    match resolver.resolve(&t.url.host, t.url.port) {
        Ok(a) if !a.is_empty() => {
            let shown: Vec<_> = a.iter().take(3).map(|s| s.ip().to_string()).collect();
            Ok((Check::ok("hub.dns", format!("{} resolves to {}", t.url.host, shown.join(", "))), a))
        }
        Ok(_) => Err(Check::fail("hub.dns", format!("{} resolves to no address", t.url.host), "check the hub name in hub.url")),
        Err(e) => Err(Check::fail(
            "hub.dns",
            format!("cannot resolve {}: {e}", t.url.host),
            "check the network cable/Wi-Fi and /etc/resolv.conf; try `getent hosts <host>`",
        )),
    }
}

fn tcp(addrs: &[SocketAddr], timeout: Duration) -> Result<(Check, TcpStream), Check> {
    let mut last = None;
    for a in addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                let ms = started.elapsed().as_millis();
                return Ok((Check::ok("hub.tcp", format!("connected to {a} in {ms} ms")), s));
            }
            Err(e) => last = Some((a, e)),
        }
    }
    let (a, e) = match last {
        Some(x) => x,
        None => return Err(Check::fail("hub.tcp", "no address to connect to", "")),
    };
    let hint = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "nothing listens there: check the port in hub.url, or the hub is down",
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "no answer: a firewall drops the traffic, or the hub is unreachable",
        _ => "check the network route to the hub (`ip route`)",
    };
    Err(Check::fail("hub.tcp", format!("cannot connect to {a}: {e}"), hint))
}

async fn tls_and_mqtt(t: &HubTarget, stream: TcpStream, timeout: Duration) -> Vec<Check> {
    let mut out = Vec::with_capacity(2);
    let transport = if t.url.tls {
        let config = match tls::client_config(&t.tls) {
            Ok(c) => c,
            Err(e) => return finish(out, Check::fail("hub.tls", e.to_string(), "fix the file with `microclass provision`"), &["hub.mqtt"]),
        };
        match tls_handshake(t, stream, config.clone(), timeout).await {
            Ok(c) => out.push(c),
            Err(c) => return finish(out, c, &["hub.mqtt"]),
        }
        Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(config))
    } else {
        drop(stream);
        out.push(Check::warn("hub.tls", "plain MQTT: traffic is not encrypted", "use mqtts:// outside a closed network"));
        Transport::Tcp
    };
    out.push(mqtt_login(t, transport, timeout).await);
    out
}

async fn tls_handshake(
    t: &HubTarget,
    stream: TcpStream,
    config: std::sync::Arc<rumqttc::tokio_rustls::rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Check, Check> {
    let fail = |d: String, h: &str| Check::fail("hub.tls", d, h);
    let name = ServerName::try_from(t.url.host.clone())
        .map_err(|e| fail(format!("{:?} is not a valid TLS server name: {e}", t.url.host), "fix hub.url"))?;
    stream.set_nonblocking(true).map_err(|e| fail(e.to_string(), ""))?;
    let stream = tokio::net::TcpStream::from_std(stream).map_err(|e| fail(e.to_string(), ""))?;
    let handshake = TlsConnector::from(config).connect(name, stream);
    match tokio::time::timeout(timeout, handshake).await {
        Err(_) => Err(fail(format!("no TLS handshake within {} s", timeout.as_secs()), "is this port really the hub's TLS port (usually 8883)?")),
        Ok(Err(e)) => {
            let text = e.to_string();
            let hint = if text.contains("certificate") || text.contains("Certificate") {
                "the hub's certificate is not trusted by hub.ca_file, is for another name, or is outside its validity (check the clock line)"
            } else {
                "the hub refused the TLS session: check the client certificate, or that the port speaks TLS"
            };
            Err(fail(format!("TLS handshake with {} failed: {text}", t.url.host), hint))
        }
        Ok(Ok(s)) => {
            let (_, conn) = s.get_ref();
            let version = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
            Ok(Check::ok("hub.tls", format!("{version} session, certificate trusted for {}", t.url.host)))
        }
    }
}

async fn mqtt_login(t: &HubTarget, transport: Transport, timeout: Duration) -> Check {
    let mut opts = MqttOptions::new(format!("{}-doctor", t.client_id), t.url.host.clone(), t.url.port);
    opts.set_keep_alive(Duration::from_secs(30)).set_clean_session(true).set_transport(transport);
    if let Some(u) = &t.username {
        opts.set_credentials(u.clone(), t.password.clone().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 4);
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => return Ok(ack),
                Ok(_) => continue,
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    let check = match result {
        Err(_) => Check::fail("hub.mqtt", format!("no CONNACK within {} s", timeout.as_secs()), "the port may not be an MQTT broker"),
        Ok(Ok(_)) => Check::ok("hub.mqtt", format!("logged in as {} in {} ms", who(t), started.elapsed().as_millis())),
        Ok(Err(ConnectionError::ConnectionRefused(code))) => refused(t, code),
        Ok(Err(e)) => Check::fail("hub.mqtt", format!("MQTT connection failed: {e}"), "see the hub's broker log for this client id"),
    };
    if check.verdict == Verdict::Ok {
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    }
    check
}

fn who(t: &HubTarget) -> String {
    match (&t.username, &t.tls.client_cert) {
        (Some(u), _) => format!("user {u:?}"),
        (None, Some(_)) => "the client certificate".into(),
        (None, None) => "anonymous".into(),
    }
}

fn refused(t: &HubTarget, code: ConnectReturnCode) -> Check {
    let (what, hint) = match code {
        ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => (
            "login refused: not authorised",
            "check hub.username and the password (re-run `microclass provision --username ... --password ...`), or the client certificate",
        ),
        ConnectReturnCode::BadClientId => ("client id refused", "ask the hub operator to allow this device's id"),
        ConnectReturnCode::ServiceUnavailable => ("broker unavailable", "the hub is overloaded or restarting; try again later"),
        ConnectReturnCode::RefusedProtocolVersion => ("MQTT 3.1.1 not accepted", "the hub must accept MQTT 3.1.1"),
        ConnectReturnCode::Success => ("unexpected success code in a refusal", ""),
    };
    Check::fail("hub.mqtt", format!("{what} (as {})", who(t)), hint)
}

/// The doctor's hub lines.
pub fn check_hub(env: &DoctorEnv) -> Vec<Check> {
    match &env.hub {
        Ok(t) => probe(t, env.resolver.as_ref(), env.timeout),
        Err(why) => finish(
            Vec::new(),
            Check::fail("hub.dns", why.clone(), "run `microclass provision` to set the hub"),
            &["hub.tcp", "hub.tls", "hub.mqtt"],
        ),
    }
}
