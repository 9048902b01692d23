//! Fuzzes the USB keyboard-wedge assembler with arbitrary key events and
//! formats: a UID only ever comes out on Enter, and each one is well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::hw::usb_wedge::{decode, ByteOrder, KeyAssembler, KeyEvent, UidFormat, WedgeFormat};

const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    let fmt = WedgeFormat {
        format: [UidFormat::Decimal10, UidFormat::Hex, UidFormat::Auto][(head % 3) as usize],
        byte_order: if head & 4 == 0 { ByteOrder::MsbFirst } else { ByteOrder::LsbFirst },
        partial_timeout_ms: u64::from(head >> 3) * 20,
    };
    if let Ok(typed) = std::str::from_utf8(rest) {
        let _ = decode(typed, &fmt);
    }
    let mut asm = KeyAssembler::new(fmt);
    let mut now = 0i64;
    // Four bytes an event: key code (2), value, milliseconds since the last one.
    for ev in rest.chunks_exact(4) {
        let code = u16::from_le_bytes([ev[0], ev[1]]);
        let value = i32::from(ev[2] % 4);
        now += i64::from(ev[3]);
        let out = asm.feed(KeyEvent { code, value }, now);
        if let Some(Ok(uid)) = &out {
            assert!(code == KEY_ENTER || code == KEY_KPENTER, "a UID without Enter");
            assert!(matches!(uid.as_str().len(), 8 | 14 | 20), "{uid:?}");
        }
        if out.is_some() {
            assert!(!asm.has_partial());
        }
        asm.expire(now);
    }
});
