//! First-boot provisioning wizard: the steps, the fields being typed and their
//! validation. Validation goes through `ProvisionChecks` so the provisioning
//! module's own rules plug in; this file never writes configuration itself.

/// What the wizard collects; handed to the run loop when the technician confirms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvisionForm {
    pub district: String,
    pub centre: String,
    pub device: String,
    pub hub: String,
    pub pin: String,
}

/// Field validation for the wizard. Messages are shown as they are, so they
/// should be Chinese first.
pub trait ProvisionChecks {
    fn check_code(&self, field: Field, value: &str) -> Result<(), String>;
    fn check_hub(&self, value: &str) -> Result<(), String>;
    fn check_pin(&self, value: &str) -> Result<(), String>;
}

/// Format checks used until (and unless) the provisioning module supplies its own.
pub struct BasicChecks;

impl ProvisionChecks for BasicChecks {
    fn check_code(&self, field: Field, value: &str) -> Result<(), String> {
        let ok = !value.is_empty()
            && value.len() <= 32
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(())
        } else {
            Err(format!("{}：只能使用字母、数字、- 和 _（1-32 个） / letters, digits, - and _ only", field.zh()))
        }
    }
    fn check_hub(&self, value: &str) -> Result<(), String> {
        let rest = value
            .strip_prefix("mqtts://")
            .or_else(|| value.strip_prefix("mqtt://"))
            .ok_or_else(|| "地址须以 mqtts:// 或 mqtt:// 开头 / must start with mqtts:// or mqtt://".to_string())?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
        if host_ok && port_ok {
            Ok(())
        } else {
            Err("督导平台地址格式不对，例如 mqtts://hub.example.cn:8883 / bad hub address".to_string())
        }
    }
    fn check_pin(&self, value: &str) -> Result<(), String> {
        if (4..=8).contains(&value.len()) && value.chars().all(|c| c.is_ascii_digit()) {
            Ok(())
        } else {
            Err("PIN 须为 4-8 位数字 / the PIN must be 4-8 digits".to_string())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    District,
    Centre,
    Device,
    Hub,
    Pin,
}

impl Field {
    /// The key the .slint screen maps to a translated label.
    pub fn key(self) -> &'static str {
        match self {
            Field::District => "district",
            Field::Centre => "centre",
            Field::Device => "device",
            Field::Hub => "hub",
            Field::Pin => "pin",
        }
    }
    fn zh(self) -> &'static str {
        match self {
            Field::District => "区县代码",
            Field::Centre => "中心代码",
            Field::Device => "设备编号",
            Field::Hub => "督导平台地址",
            Field::Pin => "技术员 PIN",
        }
    }
    fn max_len(self) -> usize {
        match self {
            Field::Pin => 8,
            Field::Hub => 96,
            _ => 32,
        }
    }
}

/// Number of steps: language, identity, hub, PIN, confirmation.
pub const STEPS: usize = 5;

#[derive(Debug, Clone, Default)]
pub struct Wizard {
    pub step: usize,
    pub active: usize,
    pub form: ProvisionForm,
    pub error: String,
}

/// A field as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldView {
    pub key: &'static str,
    pub value: String,
    pub ok: bool,
}

impl Wizard {
    /// The fields of the current step (all of them on the confirmation step).
    pub fn fields(&self) -> Vec<Field> {
        match self.step {
            1 => vec![Field::District, Field::Centre, Field::Device],
            2 => vec![Field::Hub],
            3 => vec![Field::Pin],
            4 => vec![Field::District, Field::Centre, Field::Device, Field::Hub, Field::Pin],
            _ => vec![],
        }
    }

    fn value_mut(&mut self, f: Field) -> &mut String {
        match f {
            Field::District => &mut self.form.district,
            Field::Centre => &mut self.form.centre,
            Field::Device => &mut self.form.device,
            Field::Hub => &mut self.form.hub,
            Field::Pin => &mut self.form.pin,
        }
    }

    fn value(&self, f: Field) -> &str {
        match f {
            Field::District => &self.form.district,
            Field::Centre => &self.form.centre,
            Field::Device => &self.form.device,
            Field::Hub => &self.form.hub,
            Field::Pin => &self.form.pin,
        }
    }

    pub fn views(&self) -> Vec<FieldView> {
        self.fields()
            .into_iter()
            .map(|f| FieldView {
                key: f.key(),
                value: if f == Field::Pin { "•".repeat(self.form.pin.chars().count()) } else { self.value(f).to_string() },
                ok: true,
            })
            .collect()
    }

    /// A key from the on-screen keyboard or PIN pad. Returns true when the
    /// key means "next" (the PIN pad's OK).
    pub fn key(&mut self, key: &str) -> bool {
        let fields = self.fields();
        let Some(&field) = fields.get(self.active) else { return false };
        if self.step == 4 {
            return false;
        }
        let max = field.max_len();
        let v = self.value_mut(field);
        match key {
            "back" => {
                v.pop();
            }
            "clear" => v.clear(),
            "ok" => return true,
            k if k.chars().count() == 1 && !k.chars().all(char::is_control) => {
                if v.chars().count() < max {
                    v.push_str(k);
                }
            }
            _ => {}
        }
        false
    }

    pub fn select_field(&mut self, index: usize) {
        if index < self.fields().len() {
            self.active = index;
        }
    }

    pub fn back(&mut self) {
        if self.step > 0 {
            self.step -= 1;
            self.active = 0;
            self.error.clear();
        }
    }

    /// Validates the step and moves on. Returns the form when the technician
    /// confirmed the last step.
    pub fn next(&mut self, checks: &dyn ProvisionChecks) -> Option<ProvisionForm> {
        for (i, f) in self.fields().into_iter().enumerate() {
            let v = self.value(f).trim().to_string();
            let r = match f {
                Field::Hub => checks.check_hub(&v),
                Field::Pin => checks.check_pin(&v),
                other => checks.check_code(other, &v),
            };
            if let Err(e) = r {
                self.error = e;
                if self.step < 4 {
                    self.active = i;
                } else {
                    // send the technician back to the step that holds the bad field
                    self.step = match f {
                        Field::Hub => 2,
                        Field::Pin => 3,
                        _ => 1,
                    };
                    self.active = 0;
                }
                return None;
            }
            *self.value_mut(f) = v;
        }
        self.error.clear();
        if self.step + 1 >= STEPS {
            return Some(self.form.clone());
        }
        self.step += 1;
        self.active = 0;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_text(w: &mut Wizard, s: &str) {
        for c in s.chars() {
            w.key(&c.to_string());
        }
    }

    #[test]
    fn the_wizard_walks_through_every_step_and_returns_the_form() {
        let mut w = Wizard::default();
        assert!(w.next(&BasicChecks).is_none());
        assert_eq!(w.step, 1);
        type_text(&mut w, "d01");
        w.select_field(1);
        type_text(&mut w, "c-17");
        w.select_field(2);
        type_text(&mut w, "pi_3");
        assert!(w.next(&BasicChecks).is_none());
        type_text(&mut w, "mqtts://hub.example.cn:8883");
        assert!(w.next(&BasicChecks).is_none());
        type_text(&mut w, "2468");
        assert!(w.key("ok"));
        assert!(w.next(&BasicChecks).is_none());
        assert_eq!(w.step, 4);
        assert_eq!(w.views()[4].value, "••••");
        let form = w.next(&BasicChecks).expect("confirmed");
        assert_eq!(form, ProvisionForm { district: "d01".into(), centre: "c-17".into(), device: "pi_3".into(), hub: "mqtts://hub.example.cn:8883".into(), pin: "2468".into() });
    }

    #[test]
    fn a_bad_field_stops_the_step_and_points_at_the_field() {
        let mut w = Wizard { step: 1, ..Default::default() };
        type_text(&mut w, "d01");
        w.select_field(2);
        type_text(&mut w, "pi3");
        assert!(w.next(&BasicChecks).is_none());
        assert_eq!((w.step, w.active), (1, 1));
        assert!(w.error.contains("中心代码"));
    }

    #[test]
    fn hub_addresses_need_an_mqtt_scheme_and_a_sane_port() {
        assert!(BasicChecks.check_hub("mqtt://10.0.0.2").is_ok());
        assert!(BasicChecks.check_hub("mqtts://hub.example.cn:8883").is_ok());
        assert!(BasicChecks.check_hub("http://hub").is_err());
        assert!(BasicChecks.check_hub("mqtt://hub:99999").is_err());
        assert!(BasicChecks.check_hub("mqtt://").is_err());
    }

    #[test]
    fn backspace_and_length_limits_apply_while_typing() {
        let mut w = Wizard { step: 3, ..Default::default() };
        type_text(&mut w, "1234567890");
        assert_eq!(w.form.pin, "12345678");
        w.key("back");
        assert_eq!(w.form.pin, "1234567");
        w.key("clear");
        assert_eq!(w.form.pin, "");
    }
}
