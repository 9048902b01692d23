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

/// The provisioning module's rules (src/provision): ids as MQTT topic
/// levels, `mqtt(s)://host[:port]` hub addresses, PIN strength.
pub struct DeviceChecks;

impl ProvisionChecks for DeviceChecks {
    fn check_code(&self, field: Field, value: &str) -> Result<(), String> {
        crate::provision::validate::check_id(value).map_err(|e| format!("{}：{e}", field.zh()))
    }
    fn check_hub(&self, value: &str) -> Result<(), String> {
        crate::provision::validate::parse_hub_url(value)
            .map(|_| ())
            .map_err(|e| format!("{}：{e}（例如 mqtts://hub.example.cn:8883）", Field::Hub.zh()))
    }
    fn check_pin(&self, value: &str) -> Result<(), String> {
        crate::provision::pin::check_pin_strength(value).map_err(|e| format!("{}：{e}", Field::Pin.zh()))
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
            Field::Pin => crate::provision::pin::MAX_PIN_LEN,
            Field::Hub => 96,
            _ => 64,
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
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, 1);
        type_text(&mut w, "d01");
        w.select_field(1);
        type_text(&mut w, "c-17");
        w.select_field(2);
        type_text(&mut w, "pi_3");
        assert!(w.next(&DeviceChecks).is_none());
        type_text(&mut w, "mqtts://hub.example.cn:8883");
        assert!(w.next(&DeviceChecks).is_none());
        type_text(&mut w, "258036");
        assert!(w.key("ok"));
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, 4);
        assert_eq!(w.views()[4].value, "••••••");
        let form = w.next(&DeviceChecks).expect("confirmed");
        assert_eq!(form, ProvisionForm { district: "d01".into(), centre: "c-17".into(), device: "pi_3".into(), hub: "mqtts://hub.example.cn:8883".into(), pin: "258036".into() });
    }

    #[test]
    fn a_bad_field_stops_the_step_and_points_at_the_field() {
        let mut w = Wizard { step: 1, ..Default::default() };
        type_text(&mut w, "d01");
        w.select_field(2);
        type_text(&mut w, "pi3");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!((w.step, w.active), (1, 1));
        assert!(w.error.contains("中心代码"));
    }

    #[test]
    fn the_provisioning_rules_judge_hub_addresses_and_pins() {
        assert!(DeviceChecks.check_hub("mqtt://10.0.0.2").is_ok());
        assert!(DeviceChecks.check_hub("mqtts://hub.example.cn:8883").is_ok());
        assert!(DeviceChecks.check_hub("http://hub").is_err());
        assert!(DeviceChecks.check_hub("mqtt://hub:99999").is_err());
        assert!(DeviceChecks.check_hub("mqtt://").is_err());
        assert!(DeviceChecks.check_pin("123456").is_err(), "a run of digits is too weak");
    }

    #[test]
    fn backspace_and_length_limits_apply_while_typing() {
        let mut w = Wizard { step: 3, ..Default::default() };
        type_text(&mut w, "12345678901234");
        assert_eq!(w.form.pin, "123456789012");
        w.key("back");
        assert_eq!(w.form.pin, "12345678901");
        w.key("clear");
        assert_eq!(w.form.pin, "");
    }
}
