//! Process logging: a `tracing` subscriber whose filter can be replaced
//! while the program runs (the hub's `set_log_level` command), behind the
//! small `LogControl` trait so the uplink does not depend on the subscriber.

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

/// Changes which log events are recorded.
pub trait LogControl: Send + Sync {
    /// Applies `filter` (`info`, `microclass::uplink=debug,warn`, ...) and
    /// returns the filter now in effect.
    fn set_filter(&self, filter: &str) -> Result<String, String>;
    /// The filter in effect.
    fn current(&self) -> String;
}

/// The real `LogControl`: a reload handle on the subscriber's filter.
#[derive(Clone)]
pub struct ReloadLog(reload::Handle<EnvFilter, Registry>);

impl LogControl for ReloadLog {
    fn set_filter(&self, filter: &str) -> Result<String, String> {
        let f = EnvFilter::try_new(filter).map_err(|e| format!("{filter:?}: {e}"))?;
        self.0.reload(f).map_err(|e| e.to_string())?;
        Ok(self.current())
    }

    fn current(&self) -> String {
        self.0.with_current(|f| f.to_string()).unwrap_or_default()
    }
}

/// A subscriber writing to `writer` with `filter` (`info` when it does not
/// parse), and the handle that changes its filter later.
pub fn subscriber<W>(filter: &str, writer: W, ansi: bool) -> (impl tracing::Subscriber + Send + Sync, ReloadLog)
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    let sub = Registry::default().with(layer).with(fmt::layer().with_ansi(ansi).with_writer(writer));
    (sub, ReloadLog(handle))
}

/// Installs the process-wide subscriber on stderr.
pub fn init(filter: &str) -> ReloadLog {
    use std::io::IsTerminal;
    let (sub, handle) = subscriber(filter, std::io::stderr, std::io::stderr().is_terminal());
    sub.init();
    handle
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    #[test]
    fn a_new_filter_takes_effect_on_the_running_subscriber() {
        let out = Captured::default();
        let w = out.clone();
        let (sub, log) = subscriber("info", move || w.clone(), false);
        tracing::subscriber::with_default(sub, || {
            tracing::debug!("hidden-before");
            assert_eq!(log.set_filter("debug").unwrap(), "debug");
            tracing::debug!("shown-after");
            log.set_filter("warn").unwrap();
            tracing::info!("hidden-again");
            assert_eq!(log.current(), "warn");
        });
        let text = out.text();
        assert!(!text.contains("hidden-before") && !text.contains("hidden-again"), "{text}");
        assert!(text.contains("shown-after"), "{text}");
    }

    #[test]
    fn a_filter_that_does_not_parse_is_refused_and_the_old_one_stays() {
        // The subscriber must stay alive: the handle does not keep it.
        let (_sub, log) = subscriber("info", std::io::sink, false);
        assert!(log.set_filter("microclass=loud").is_err());
        assert_eq!(log.current(), "info");
    }
}
