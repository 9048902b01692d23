//! Buzzer and LEDs on GPIO: feedback patterns (ok / error / unknown card) as
//! data from the board file, played on a worker thread so `signal` never
//! blocks the kiosk. A new signal cuts the running pattern short. Outputs are
//! behind the `Line` trait (rppal `OutputPin` on the Pi, recorders in tests).
//! Knows nothing about why a signal is asked for.

use super::{Indicator, IndicatorError, Signal};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// One step of a pattern: what is on, for how long. Everything not listed is off.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub buzzer: bool,
    #[serde(default)]
    pub leds: Vec<String>,
    pub ms: u32,
}

impl Step {
    fn new(buzzer: bool, led: &str, ms: u32) -> Step {
        Step { buzzer, leds: vec![led.to_string()], ms }
    }
}

/// The three patterns. Defaults: ok = one short beep with green, error = one
/// long beep with red, unknown card = three short beeps with red.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Patterns {
    pub ok: Vec<Step>,
    pub error: Vec<Step>,
    pub unknown: Vec<Step>,
}

impl Default for Patterns {
    fn default() -> Self {
        Patterns {
            ok: vec![Step::new(true, "green", 120), Step::new(false, "green", 880)],
            error: vec![Step::new(true, "red", 600), Step::new(false, "red", 400)],
            unknown: vec![
                Step::new(true, "red", 80),
                Step::new(false, "red", 80),
                Step::new(true, "red", 80),
                Step::new(false, "red", 80),
                Step::new(true, "red", 80),
                Step::new(false, "red", 600),
            ],
        }
    }
}

impl Patterns {
    pub fn get(&self, s: Signal) -> &[Step] {
        match s {
            Signal::Ok => &self.ok,
            Signal::Error => &self.error,
            Signal::Unknown => &self.unknown,
        }
    }

    /// LED names the patterns use (the board file must define each).
    pub fn led_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = [&self.ok, &self.error, &self.unknown]
            .iter()
            .flat_map(|p| p.iter().flat_map(|s| s.leds.iter().map(String::as_str)))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// A digital output: a buzzer or an LED.
pub trait Line: Send {
    fn set(&mut self, on: bool);
}

impl Line for rppal::gpio::OutputPin {
    fn set(&mut self, on: bool) {
        if on {
            self.set_high();
        } else {
            self.set_low();
        }
    }
}

/// An output whose module acts when its pin is low: on is driven low.
pub struct ActiveLow(pub Box<dyn Line>);

impl Line for ActiveLow {
    fn set(&mut self, on: bool) {
        self.0.set(!on);
    }
}

/// A GPIO output as the board file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLine {
    pub pin: u8,
    pub active_low: bool,
}

/// The outputs of one board.
#[derive(Default)]
pub struct Outputs {
    pub buzzer: Option<Box<dyn Line>>,
    pub leds: Vec<(String, Box<dyn Line>)>,
}

impl Outputs {
    fn apply(&mut self, step: Option<&Step>) {
        if let Some(b) = self.buzzer.as_mut() {
            b.set(step.is_some_and(|s| s.buzzer));
        }
        for (name, line) in self.leds.iter_mut() {
            line.set(step.is_some_and(|s| s.leds.iter().any(|l| l == name)));
        }
    }
}

/// Plays patterns on its own thread.
pub struct GpioIndicator {
    tx: Option<Sender<Signal>>,
    worker: Option<JoinHandle<()>>,
}

impl GpioIndicator {
    pub fn new(outputs: Outputs, patterns: Patterns) -> Result<Self, IndicatorError> {
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("indicator".into())
            .spawn(move || play_loop(outputs, patterns, rx))
            .map_err(|e| IndicatorError::Unavailable(format!("cannot start the indicator thread: {e}")))?;
        Ok(GpioIndicator { tx: Some(tx), worker: Some(worker) })
    }
}

fn play_loop(mut out: Outputs, patterns: Patterns, rx: Receiver<Signal>) {
    out.apply(None);
    let mut next = rx.recv().ok();
    while let Some(signal) = next.take() {
        'pattern: for step in patterns.get(signal) {
            out.apply(Some(step));
            match rx.recv_timeout(Duration::from_millis(step.ms as u64)) {
                Ok(s) => {
                    next = Some(s);
                    break 'pattern;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break 'pattern,
            }
        }
        out.apply(None);
        if next.is_none() {
            next = rx.recv().ok();
        }
    }
    out.apply(None);
}

impl Indicator for GpioIndicator {
    fn signal(&mut self, signal: Signal) -> Result<(), IndicatorError> {
        match &self.tx {
            Some(tx) => tx.send(signal).map_err(|_| IndicatorError::Fault("the indicator thread stopped".into())),
            None => Err(IndicatorError::Fault("indicator closed".into())),
        }
    }
}

impl Drop for GpioIndicator {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// Claims the buzzer and LED pins (BCM numbers) through rppal, all off
/// (an active-low line starts high, so its module is silent/dark at once).
pub fn open_pi_outputs(buzzer: Option<OutputLine>, leds: &[(String, OutputLine)]) -> Result<Outputs, IndicatorError> {
    let gpio = rppal::gpio::Gpio::new()
        .map_err(|e| IndicatorError::Unavailable(format!("cannot open the GPIO controller: {e}")))?;
    let claim = |line: OutputLine, what: &str| -> Result<Box<dyn Line>, IndicatorError> {
        let p = gpio
            .get(line.pin)
            .map_err(|e| IndicatorError::Unavailable(format!("cannot claim GPIO{} for the {what}: {e}", line.pin)))?;
        Ok(if line.active_low { Box::new(ActiveLow(Box::new(p.into_output_high()))) } else { Box::new(p.into_output_low()) })
    };
    let mut out = Outputs::default();
    if let Some(line) = buzzer {
        out.buzzer = Some(claim(line, "buzzer")?);
    }
    for (name, line) in leds {
        out.leds.push((name.clone(), claim(*line, &format!("{name} LED"))?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<(String, bool)>>>);

    struct Recorder {
        name: String,
        log: Log,
    }

    impl Line for Recorder {
        fn set(&mut self, on: bool) {
            if let Ok(mut l) = self.log.0.lock() {
                l.push((self.name.clone(), on));
            }
        }
    }

    fn outputs(log: &Log) -> Outputs {
        let line = |n: &str| -> Box<dyn Line> { Box::new(Recorder { name: n.into(), log: log.clone() }) };
        Outputs { buzzer: Some(line("buzzer")), leds: vec![("green".into(), line("green")), ("red".into(), line("red"))] }
    }

    fn fast(p: &[Step]) -> Vec<Step> {
        p.iter().map(|s| Step { ms: 1, ..s.clone() }).collect()
    }

    #[test]
    fn an_ok_signal_beeps_once_with_green_and_ends_with_everything_off() {
        let log = Log::default();
        let d = Patterns::default();
        let patterns = Patterns { ok: fast(&d.ok), error: fast(&d.error), unknown: fast(&d.unknown) };
        let mut ind = GpioIndicator::new(outputs(&log), patterns).unwrap();
        ind.signal(Signal::Ok).unwrap();
        drop(ind);
        let log = log.0.lock().unwrap().clone();
        let buzzer_on = log.iter().filter(|(n, on)| n == "buzzer" && *on).count();
        assert_eq!(buzzer_on, 1);
        assert!(log.iter().any(|(n, on)| n == "green" && *on));
        assert!(!log.iter().any(|(n, on)| n == "red" && *on));
        // The last state of every line is off.
        for name in ["buzzer", "green", "red"] {
            let last = log.iter().rev().find(|(n, _)| n == name).unwrap();
            assert!(!last.1, "{name} left on");
        }
    }

    #[test]
    fn an_active_low_buzzer_is_driven_low_to_sound_and_left_high() {
        let log = Log::default();
        let raw = |n: &str| -> Box<dyn Line> { Box::new(Recorder { name: n.into(), log: log.clone() }) };
        let outputs = Outputs { buzzer: Some(Box::new(ActiveLow(raw("buzzer")))), leds: vec![("green".into(), raw("green"))] };
        let d = Patterns::default();
        let mut ind = GpioIndicator::new(outputs, Patterns { ok: fast(&d.ok), ..Patterns::default() }).unwrap();
        ind.signal(Signal::Ok).unwrap();
        drop(ind);
        let levels: Vec<bool> = log.0.lock().unwrap().iter().filter(|(n, _)| n == "buzzer").map(|(_, l)| *l).collect();
        assert!(levels.contains(&false), "sounding means low: {levels:?}");
        assert_eq!(levels.first(), Some(&true), "off (high) before anything plays");
        assert_eq!(levels.last(), Some(&true), "left off, which is high");
    }

    #[test]
    fn an_unknown_card_beeps_three_times_in_the_default_patterns() {
        let p = Patterns::default();
        assert_eq!(p.unknown.iter().filter(|s| s.buzzer).count(), 3);
        assert_eq!(p.error.iter().filter(|s| s.buzzer).count(), 1);
        assert_eq!(p.led_names(), vec!["green", "red"]);
    }

    #[test]
    fn patterns_are_read_from_toml() {
        let p: Patterns = toml::from_str("ok = [{ buzzer = true, ms = 50 }, { leds = [\"blue\"], ms = 500 }]").unwrap();
        assert_eq!(p.ok[1], Step { buzzer: false, leds: vec!["blue".into()], ms: 500 });
        assert_eq!(p.error, Patterns::default().error);
    }
}
