//! First-boot provisioning wizard: the steps, the fields being typed and their
//! validation. Validation goes through `ProvisionChecks` so the provisioning
//! module's own rules plug in; this file never writes configuration itself.

/// What the wizard collects; handed to the run loop when the technician confirms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvisionForm {
    pub district: String,
    pub centre: String,
    pub device: String,
    /// `sim` or the absolute path of a board file (`crate::board::choices`).
    pub board: String,
    pub hub: String,
    /// The hub's Ed25519 signing public key, 64 hex digits.
    pub hub_key: String,
    pub pin: String,
}

/// Field validation for the wizard. Messages are shown as they are, so they
/// should be Chinese first.
pub trait ProvisionChecks {
    fn check_code(&self, field: Field, value: &str) -> Result<(), String>;
    fn check_board(&self, value: &str) -> Result<(), String>;
    fn check_hub(&self, value: &str) -> Result<(), String>;
    fn check_hub_key(&self, value: &str) -> Result<(), String>;
    fn check_pin(&self, value: &str) -> Result<(), String>;
}

/// The provisioning module's rules (src/provision): ids as MQTT topic
/// levels, a built-in board or a readable board file, `mqtt(s)://host[:port]`
/// hub addresses, an Ed25519 key, PIN strength. `provision::check_settings`
/// requires a hub and its key, so the wizard cannot make a device without one.
pub struct DeviceChecks;

impl ProvisionChecks for DeviceChecks {
    fn check_code(&self, field: Field, value: &str) -> Result<(), String> {
        crate::provision::validate::check_id(value).map_err(|e| format!("{}：{e}", field.zh()))
    }
    fn check_board(&self, value: &str) -> Result<(), String> {
        if value.is_empty() {
            return Err(format!("{}：请选择一项 (choose one)", Field::Board.zh()));
        }
        crate::provision::validate::check_board(value).map_err(|e| format!("{}：{e}", Field::Board.zh()))
    }
    fn check_hub(&self, value: &str) -> Result<(), String> {
        crate::provision::validate::parse_hub_url(value)
            .map(|_| ())
            .map_err(|e| format!("{}：{e}（例如 mqtts://hub.example.cn:8883）", Field::Hub.zh()))
    }
    fn check_hub_key(&self, value: &str) -> Result<(), String> {
        crate::provision::validate::parse_signing_key(value).map(|_| ()).map_err(|e| format!("{}：{e}", Field::HubKey.zh()))
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
    Board,
    Hub,
    HubKey,
    Pin,
}

impl Field {
    /// The key the .slint screen maps to a translated label.
    pub fn key(self) -> &'static str {
        match self {
            Field::District => "district",
            Field::Centre => "centre",
            Field::Device => "device",
            Field::Board => "board",
            Field::Hub => "hub",
            Field::HubKey => "hub_key",
            Field::Pin => "pin",
        }
    }
    fn zh(self) -> &'static str {
        match self {
            Field::District => "区县代码",
            Field::Centre => "中心代码",
            Field::Device => "设备编号",
            Field::Board => "主板",
            Field::Hub => "督导平台地址",
            Field::HubKey => "平台签名公钥",
            Field::Pin => "技术员 PIN",
        }
    }
    fn max_len(self) -> usize {
        match self {
            Field::Pin => crate::provision::pin::MAX_PIN_LEN,
            Field::Hub => 96,
            Field::HubKey => KEY_HEX_LEN,
            _ => 64,
        }
    }
    /// The step that asks for this field.
    fn step(self) -> usize {
        match self {
            Field::District | Field::Centre | Field::Device => STEP_IDENTITY,
            Field::Board => STEP_BOARD,
            Field::Hub | Field::HubKey => STEP_HUB,
            Field::Pin => STEP_PIN,
        }
    }
}

/// An Ed25519 public key in hex.
const KEY_HEX_LEN: usize = 64;

pub const STEP_LANGUAGE: usize = 0;
pub const STEP_IDENTITY: usize = 1;
pub const STEP_BOARD: usize = 2;
pub const STEP_HUB: usize = 3;
pub const STEP_PIN: usize = 4;
pub const STEP_CONFIRM: usize = 5;
/// Number of steps: language, identity, board, hub, PIN, confirmation.
pub const STEPS: usize = 6;

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
            STEP_IDENTITY => vec![Field::District, Field::Centre, Field::Device],
            STEP_BOARD => vec![Field::Board],
            STEP_HUB => vec![Field::Hub, Field::HubKey],
            STEP_PIN => vec![Field::Pin],
            STEP_CONFIRM => vec![Field::District, Field::Centre, Field::Device, Field::Board, Field::Hub, Field::HubKey, Field::Pin],
            _ => vec![],
        }
    }

    fn value_mut(&mut self, f: Field) -> &mut String {
        match f {
            Field::District => &mut self.form.district,
            Field::Centre => &mut self.form.centre,
            Field::Device => &mut self.form.device,
            Field::Board => &mut self.form.board,
            Field::Hub => &mut self.form.hub,
            Field::HubKey => &mut self.form.hub_key,
            Field::Pin => &mut self.form.pin,
        }
    }

    fn value(&self, f: Field) -> &str {
        match f {
            Field::District => &self.form.district,
            Field::Centre => &self.form.centre,
            Field::Device => &self.form.device,
            Field::Board => &self.form.board,
            Field::Hub => &self.form.hub,
            Field::HubKey => &self.form.hub_key,
            Field::Pin => &self.form.pin,
        }
    }

    pub fn views(&self) -> Vec<FieldView> {
        self.fields()
            .into_iter()
            .map(|f| FieldView { key: f.key(), value: self.shown(f), ok: true })
            .collect()
    }

    /// A value as the screen shows it: the PIN masked, the board by its file
    /// name, the key in groups of four (easier to compare with the hub's copy).
    fn shown(&self, f: Field) -> String {
        let v = self.value(f);
        match f {
            Field::Pin => "•".repeat(v.chars().count()),
            Field::Board => std::path::Path::new(v).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            Field::HubKey => {
                let chars: Vec<char> = v.chars().collect();
                chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
            }
            _ => v.to_string(),
        }
    }

    /// A key from the on-screen keyboard or PIN pad. Returns true when the
    /// key means "next" (the PIN pad's OK).
    pub fn key(&mut self, key: &str) -> bool {
        let fields = self.fields();
        let Some(&field) = fields.get(self.active) else { return false };
        if self.step == STEP_CONFIRM || field == Field::Board {
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
            // A key is read in groups; spaces typed between them are not part of it.
            " " if field == Field::HubKey => {}
            k if k.chars().count() == 1 && !k.chars().all(char::is_control) => {
                if v.chars().count() < max {
                    v.push_str(k);
                }
            }
            _ => {}
        }
        false
    }

    /// The technician chose a board (a value of `crate::board::choices`).
    pub fn choose_board(&mut self, value: &str) {
        if self.step == STEP_BOARD {
            self.form.board = value.to_string();
            self.error.clear();
        }
    }

    pub fn select_field(&mut self, index: usize) {
        if self.step != STEP_CONFIRM && index < self.fields().len() {
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
                Field::Board => checks.check_board(&v),
                Field::Hub => checks.check_hub(&v),
                Field::HubKey => checks.check_hub_key(&v),
                Field::Pin => checks.check_pin(&v),
                other => checks.check_code(other, &v),
            };
            if let Err(e) = r {
                self.error = e;
                if self.step == STEP_CONFIRM {
                    // send the technician back to the step that holds the bad field
                    self.step = f.step();
                    self.active = self.fields().iter().position(|g| *g == f).unwrap_or(0);
                } else {
                    self.active = i;
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

    const KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

    fn type_text(w: &mut Wizard, s: &str) {
        for c in s.chars() {
            w.key(&c.to_string());
        }
    }

    #[test]
    fn the_wizard_walks_through_every_step_and_returns_the_form() {
        let mut w = Wizard::default();
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, STEP_IDENTITY);
        type_text(&mut w, "d01");
        w.select_field(1);
        type_text(&mut w, "c-17");
        w.select_field(2);
        type_text(&mut w, "pi_3");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, STEP_BOARD);
        w.choose_board("sim");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, STEP_HUB);
        type_text(&mut w, "mqtts://hub.example.cn:8883");
        w.select_field(1);
        type_text(&mut w, KEY);
        assert!(w.next(&DeviceChecks).is_none());
        type_text(&mut w, "258036");
        assert!(w.key("ok"));
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, STEP_CONFIRM);
        let shown: Vec<String> = w.views().into_iter().map(|v| v.value).collect();
        assert_eq!(shown[3], "sim");
        assert_eq!(shown[5], "3d40 17c3 e843 895a 92b7 0aa7 4d1b 7ebc 9c98 2ccf 2ec4 968c c0cd 55f1 2af4 660c", "the whole key, to compare");
        assert_eq!(shown[6], "••••••");
        let form = w.next(&DeviceChecks).expect("confirmed");
        assert_eq!(
            form,
            ProvisionForm {
                district: "d01".into(),
                centre: "c-17".into(),
                device: "pi_3".into(),
                board: "sim".into(),
                hub: "mqtts://hub.example.cn:8883".into(),
                hub_key: KEY.into(),
                pin: "258036".into(),
            }
        );
    }

    #[test]
    fn a_bad_field_stops_the_step_and_points_at_the_field() {
        let mut w = Wizard { step: STEP_IDENTITY, ..Default::default() };
        type_text(&mut w, "d01");
        w.select_field(2);
        type_text(&mut w, "pi3");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!((w.step, w.active), (STEP_IDENTITY, 1));
        assert!(w.error.contains("中心代码"));
    }

    #[test]
    fn the_board_step_needs_a_choice_and_takes_no_typing() {
        let mut w = Wizard { step: STEP_BOARD, ..Default::default() };
        assert!(!w.key("a"));
        assert_eq!(w.form.board, "");
        assert!(w.next(&DeviceChecks).is_none());
        assert!(w.error.contains("主板"), "{}", w.error);
        w.choose_board("/nonexistent/board.toml");
        assert!(w.error.is_empty(), "choosing clears the last error");
        assert!(w.next(&DeviceChecks).is_none(), "an unreadable board file is refused");
        assert!(w.error.contains("cannot read"), "{}", w.error);
        w.choose_board("sim");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, STEP_HUB);
        w.choose_board("/elsewhere.toml");
        assert_eq!(w.form.board, "sim", "a board is only chosen on its step");
    }

    #[test]
    fn the_hub_key_is_typed_in_groups_and_judged_by_the_provisioning_rules() {
        let mut w = Wizard { step: STEP_HUB, ..Default::default() };
        type_text(&mut w, "mqtt://10.0.0.2");
        w.select_field(1);
        type_text(&mut w, "3d40 17c3");
        assert_eq!(w.form.hub_key, "3d4017c3", "spaces between groups are dropped");
        assert_eq!(w.views()[1].value, "3d40 17c3");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!((w.step, w.active), (STEP_HUB, 1));
        assert!(w.error.contains("平台签名公钥"), "{}", w.error);
        type_text(&mut w, &KEY[8..]);
        type_text(&mut w, "ffff");
        assert_eq!(w.form.hub_key, KEY, "no more than 64 digits");
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!(w.step, STEP_PIN);
    }

    #[test]
    fn a_bad_field_found_on_confirmation_sends_the_technician_to_its_step() {
        let mut w = Wizard { step: STEP_CONFIRM, ..Default::default() };
        w.form = ProvisionForm {
            district: "d01".into(),
            centre: "c1".into(),
            device: "pi3".into(),
            board: "sim".into(),
            hub: "mqtt://10.0.0.2".into(),
            hub_key: "00".repeat(31),
            pin: "258036".into(),
        };
        assert!(w.next(&DeviceChecks).is_none());
        assert_eq!((w.step, w.active), (STEP_HUB, 1));
    }

    #[test]
    fn the_provisioning_rules_judge_hub_addresses_keys_and_pins() {
        assert!(DeviceChecks.check_hub("mqtt://10.0.0.2").is_ok());
        assert!(DeviceChecks.check_hub("mqtts://hub.example.cn:8883").is_ok());
        assert!(DeviceChecks.check_hub("http://hub").is_err());
        assert!(DeviceChecks.check_hub("mqtt://hub:99999").is_err());
        assert!(DeviceChecks.check_hub("mqtt://").is_err());
        assert!(DeviceChecks.check_hub("").is_err(), "provisioning requires a hub");
        assert!(DeviceChecks.check_hub_key(KEY).is_ok());
        assert!(DeviceChecks.check_hub_key(&"zz".repeat(32)).is_err());
        assert!(DeviceChecks.check_hub_key("").is_err());
        assert!(DeviceChecks.check_pin("123456").is_err(), "a run of digits is too weak");
    }

    #[test]
    fn backspace_and_length_limits_apply_while_typing() {
        let mut w = Wizard { step: STEP_PIN, ..Default::default() };
        type_text(&mut w, "12345678901234");
        assert_eq!(w.form.pin, "123456789012");
        w.key("back");
        assert_eq!(w.form.pin, "12345678901");
        w.key("clear");
        assert_eq!(w.form.pin, "");
    }

    #[test]
    fn a_key_of_odd_characters_is_shown_without_panicking() {
        let mut w = Wizard { step: STEP_CONFIRM, ..Default::default() };
        w.form.hub_key = "密".repeat(6);
        assert_eq!(w.views()[5].value, "密密密密 密密");
    }
}
