//! Batches of outbox rows on their way to the hub: read the next rows after
//! the cursor while the in-flight window has room, publish them, and read the
//! unacknowledged ones again after a reconnect (same ids and seqs).

use super::link::Link;
use super::session::{LinkError, Session};
use super::state::PubTag;
use crate::store::drain;
use microclass_protocol::wire;
use rumqttc::QoS;
use tracing::{debug, warn};

impl Link {
    /// Tops up the window; true when the session had to be dropped (the
    /// caller then schedules a reconnect).
    pub(super) fn fill(&mut self, session: &mut Option<Session>) -> bool {
        if let Some(s) = session.as_mut().filter(|s| s.up) {
            if let Err(e) = self.fill_session(s) {
                warn!(error = %e, "drain stalled; reconnecting");
                *session = None;
                self.state.on_disconnect();
                self.with_status(|st| {
                    st.connected = false;
                    st.last_error = Some(e.to_string());
                });
                return true;
            }
        }
        false
    }

    /// Hands the encoded batch over without copying it. Every batch buffer
    /// has the same capacity, so the allocator reuses freed ones exactly and
    /// memory stays at one buffer per batch in flight, whatever the backlog.
    fn take_batch(&mut self) -> Vec<u8> {
        let cap = self.u.config.batch_bytes + wire::BATCH_HEADER_MAX;
        std::mem::replace(&mut self.buf, String::with_capacity(cap)).into_bytes()
    }

    /// Reads and publishes batches while the window has room.
    pub(super) fn fill_session(&mut self, s: &mut Session) -> Result<(), LinkError> {
        while self.state.has_room() {
            let now = self.now_ms();
            let mut w = wire::BatchWriter::begin(&mut self.buf, &self.stream, &self.u.config.device, now);
            let read = drain::write_next_batch(&self.conn, self.state.cursor(), self.u.config.batch_bytes, self.u.config.batch_records, &mut w);
            w.finish();
            let seqs = match read {
                Ok(seqs) => seqs,
                Err(e) => {
                    warn!(error = %e, "reading the outbox failed; will retry");
                    return Ok(());
                }
            };
            if seqs.is_empty() {
                let idle = self.state.in_flight() == 0;
                self.with_status(|st| st.drained = idle);
                return Ok(());
            }
            let rows = seqs.len();
            let no = self.state.add_batch(seqs);
            let bytes = self.take_batch();
            self.publish_tagged(s, &self.topics.events.clone(), QoS::AtLeastOnce, false, bytes, PubTag::Batch(no))?;
            self.with_status(|st| st.drained = false);
            debug!(batch = no, rows, "batch published");
        }
        Ok(())
    }

    /// Publishes the batches that were in flight when the last connection
    /// ended, read again by their seqs.
    pub(super) fn resend(&mut self, s: &mut Session, again: Vec<(u64, Vec<i64>)>) -> Result<(), LinkError> {
        for (no, seqs) in again {
            let now = self.now_ms();
            let mut w = wire::BatchWriter::begin(&mut self.buf, &self.stream, &self.u.config.device, now);
            let read = drain::write_batch_of(&self.conn, &seqs, &mut w);
            w.finish();
            let written = read.map_err(|source| LinkError::Reread { batch: no, source })?;
            if written.len() != seqs.len() {
                warn!(batch = no, expected = seqs.len(), found = written.len(), "rows of an unacknowledged batch are gone from the outbox");
            }
            let bytes = self.take_batch();
            self.publish_tagged(s, &self.topics.events.clone(), QoS::AtLeastOnce, false, bytes, PubTag::Batch(no))?;
        }
        Ok(())
    }
}
