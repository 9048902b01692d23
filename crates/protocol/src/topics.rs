//! The MQTT topic tree of protocol v1 (see docs/protocol.md). Builds the
//! device's own topics and classifies incoming ones; it never publishes.

/// Every topic starts with this root.
pub const ROOT: &str = "mc/v1";

/// The topics of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub status: String,
    pub events: String,
    pub telemetry: String,
    pub cmd: String,
    pub cmd_ack: String,
    pub roster: String,
    pub catalog: String,
    pub schedule: String,
}

/// What an incoming topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    Roster,
    Catalog,
    Schedule,
    Command,
    Other,
}

impl Topics {
    pub fn new(district: &str, centre: &str, device: &str) -> Self {
        let dev = format!("{ROOT}/{district}/{centre}/{device}");
        Topics {
            status: format!("{dev}/status"),
            events: format!("{dev}/events"),
            telemetry: format!("{dev}/telemetry"),
            cmd: format!("{dev}/cmd"),
            cmd_ack: format!("{dev}/cmd/ack"),
            roster: format!("{ROOT}/{district}/roster"),
            catalog: format!("{ROOT}/{district}/catalog"),
            schedule: format!("{ROOT}/{district}/{centre}/schedule"),
        }
    }

    /// The topics the device subscribes to, all at QoS 1.
    pub fn subscriptions(&self) -> [&str; 4] {
        [&self.roster, &self.catalog, &self.schedule, &self.cmd]
    }

    pub fn classify(&self, topic: &str) -> Incoming {
        if topic == self.roster {
            Incoming::Roster
        } else if topic == self.catalog {
            Incoming::Catalog
        } else if topic == self.schedule {
            Incoming::Schedule
        } else if topic == self.cmd {
            Incoming::Command
        } else {
            Incoming::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_topics_sit_under_district_centre_device() {
        let t = Topics::new("d1", "c7", "pi-042");
        assert_eq!(t.events, "mc/v1/d1/c7/pi-042/events");
        assert_eq!(t.cmd_ack, "mc/v1/d1/c7/pi-042/cmd/ack");
        assert_eq!(t.roster, "mc/v1/d1/roster");
        assert_eq!(t.schedule, "mc/v1/d1/c7/schedule");
    }

    #[test]
    fn incoming_topics_are_classified_exactly() {
        let t = Topics::new("d1", "c7", "pi-042");
        assert_eq!(t.classify("mc/v1/d1/catalog"), Incoming::Catalog);
        assert_eq!(t.classify("mc/v1/d1/c7/pi-042/cmd"), Incoming::Command);
        assert_eq!(t.classify("mc/v1/d1/c7/pi-042/cmd/ack"), Incoming::Other);
        assert_eq!(t.classify("mc/v1/d2/roster"), Incoming::Other);
    }
}
