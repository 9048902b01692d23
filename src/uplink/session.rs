//! One MQTT connection to the broker and the reconnect timer. The rumqttc
//! event loop runs in a task of its own, so the uplink's `select!` only ever
//! waits on a channel: nothing cancels a connect in progress, and rumqttc's
//! connection timeout (TCP, TLS and CONNACK under one deadline) always runs
//! to its end. No decisions here: the link loop decides what to send.

use crate::store::drain::OutboxError;
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions};
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

pub use crate::config::hub::CONNECT_TIMEOUT_S;

/// Events buffered between the connection task and the link loop.
const EVENT_BUFFER: usize = 256;

/// Why a connection ended or a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connection: {0}")]
    Connection(#[from] ConnectionError),
    #[error("publish request: {0}")]
    Request(#[from] rumqttc::ClientError),
    #[error("reading batch {batch} again: {source}")]
    Reread { batch: u64, source: OutboxError },
    #[error("the connection task ended")]
    Ended,
}

/// A connection in progress or up. Dropping it closes the socket.
pub struct Session {
    pub client: AsyncClient,
    events: mpsc::Receiver<Result<Event, ConnectionError>>,
    task: tokio::task::JoinHandle<()>,
    /// CONNACK received.
    pub up: bool,
}

impl Session {
    /// Starts connecting. Every write is a whole MQTT packet, so Nagle is off:
    /// it would only hold back small ones (a sign-in's batch, an ack) by up to 40 ms.
    pub fn start(opts: MqttOptions, request_capacity: usize, connect_timeout_s: u64) -> Session {
        let (client, mut el) = AsyncClient::new(opts, request_capacity);
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(connect_timeout_s.max(1));
        el.set_network_options(net);
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(async move {
            loop {
                let ev = el.poll().await;
                let failed = ev.is_err();
                // One error ends the connection: the link loop owns the backoff.
                if tx.send(ev).await.is_err() || failed {
                    break;
                }
            }
        });
        Session { client, events, task, up: false }
    }

    /// The next event of this connection; cancel-safe.
    pub async fn next(&mut self) -> Result<Event, LinkError> {
        match self.events.recv().await {
            Some(ev) => ev.map_err(LinkError::from),
            None => Err(LinkError::Ended),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits for the next event of `s`, or forever without a session.
pub async fn next_event(s: &mut Option<Session>) -> Result<Event, LinkError> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// When to try connecting next: one timer, armed or not.
pub struct Reconnect {
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

impl Reconnect {
    /// Armed to fire at once.
    pub fn now() -> Reconnect {
        Reconnect { timer: Box::pin(tokio::time::sleep(Duration::ZERO)), armed: true }
    }

    pub fn after_ms(&mut self, delay_ms: u64) {
        self.timer.as_mut().reset(Instant::now() + Duration::from_millis(delay_ms));
        self.armed = true;
    }

    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Completes when the timer fires; disarms it. Cancel-safe.
    pub async fn fired(&mut self) {
        self.timer.as_mut().await;
        self.armed = false;
    }
}
