//! MFRC522 register map, command codes and bit masks (NXP MFRC522 datasheet
//! rev. 3.9, chapter 9 and 10). Names follow the datasheet so code and
//! datasheet can be read side by side. Constants only: no I/O here.

// Page 0: command and status
pub const COMMAND: u8 = 0x01;
pub const COM_IEN: u8 = 0x02;
pub const DIV_IEN: u8 = 0x03;
pub const COM_IRQ: u8 = 0x04;
pub const DIV_IRQ: u8 = 0x05;
pub const ERROR: u8 = 0x06;
pub const STATUS1: u8 = 0x07;
pub const STATUS2: u8 = 0x08;
pub const FIFO_DATA: u8 = 0x09;
pub const FIFO_LEVEL: u8 = 0x0A;
pub const WATER_LEVEL: u8 = 0x0B;
pub const CONTROL: u8 = 0x0C;
pub const BIT_FRAMING: u8 = 0x0D;
pub const COLL: u8 = 0x0E;
// Page 1: command
pub const MODE: u8 = 0x11;
pub const TX_MODE: u8 = 0x12;
pub const RX_MODE: u8 = 0x13;
pub const TX_CONTROL: u8 = 0x14;
pub const TX_ASK: u8 = 0x15;
pub const TX_SEL: u8 = 0x16;
pub const RX_SEL: u8 = 0x17;
pub const RX_THRESHOLD: u8 = 0x18;
pub const DEMOD: u8 = 0x19;
pub const MF_TX: u8 = 0x1C;
pub const MF_RX: u8 = 0x1D;
pub const SERIAL_SPEED: u8 = 0x1F;
// Page 2: configuration
pub const CRC_RESULT_H: u8 = 0x21;
pub const CRC_RESULT_L: u8 = 0x22;
pub const MOD_WIDTH: u8 = 0x24;
pub const RF_CFG: u8 = 0x26;
pub const GS_N: u8 = 0x27;
pub const CW_GS_P: u8 = 0x28;
pub const MOD_GS_P: u8 = 0x29;
pub const T_MODE: u8 = 0x2A;
pub const T_PRESCALER: u8 = 0x2B;
pub const T_RELOAD_H: u8 = 0x2C;
pub const T_RELOAD_L: u8 = 0x2D;
pub const T_COUNTER_VAL_H: u8 = 0x2E;
pub const T_COUNTER_VAL_L: u8 = 0x2F;
// Page 3: test
pub const TEST_SEL1: u8 = 0x31;
pub const TEST_SEL2: u8 = 0x32;
pub const TEST_PIN_EN: u8 = 0x33;
pub const TEST_PIN_VALUE: u8 = 0x34;
pub const TEST_BUS: u8 = 0x35;
pub const AUTO_TEST: u8 = 0x36;
pub const VERSION: u8 = 0x37;
pub const ANALOG_TEST: u8 = 0x38;
pub const TEST_DAC1: u8 = 0x39;
pub const TEST_DAC2: u8 = 0x3A;
pub const TEST_ADC: u8 = 0x3B;

/// Number of register addresses (6-bit address space).
pub const REGISTER_COUNT: usize = 0x40;

/// SPI address byte (datasheet 8.1.2.3): bit 7 = read, bits 6..1 = address, bit 0 = 0.
pub const fn read_addr(reg: u8) -> u8 {
    0x80 | ((reg & 0x3F) << 1)
}
pub const fn write_addr(reg: u8) -> u8 {
    (reg & 0x3F) << 1
}

// PCD commands (CommandReg bits 3..0), datasheet 10.3
pub const CMD_IDLE: u8 = 0x00;
pub const CMD_MEM: u8 = 0x01;
pub const CMD_GENERATE_RANDOM_ID: u8 = 0x02;
pub const CMD_CALC_CRC: u8 = 0x03;
pub const CMD_TRANSMIT: u8 = 0x04;
pub const CMD_NO_CMD_CHANGE: u8 = 0x07;
pub const CMD_RECEIVE: u8 = 0x08;
pub const CMD_TRANSCEIVE: u8 = 0x0C;
pub const CMD_MF_AUTHENT: u8 = 0x0E;
pub const CMD_SOFT_RESET: u8 = 0x0F;

// CommandReg
pub const COMMAND_RCV_OFF: u8 = 0x20;
pub const COMMAND_POWER_DOWN: u8 = 0x10;
pub const COMMAND_MASK: u8 = 0x0F;

// ComIrqReg
pub const COM_IRQ_SET1: u8 = 0x80;
pub const COM_IRQ_TX: u8 = 0x40;
pub const COM_IRQ_RX: u8 = 0x20;
pub const COM_IRQ_IDLE: u8 = 0x10;
pub const COM_IRQ_HI_ALERT: u8 = 0x08;
pub const COM_IRQ_LO_ALERT: u8 = 0x04;
pub const COM_IRQ_ERR: u8 = 0x02;
pub const COM_IRQ_TIMER: u8 = 0x01;
/// Written to ComIrqReg: Set1 = 0 clears every marked bit.
pub const COM_IRQ_CLEAR_ALL: u8 = 0x7F;

// DivIrqReg
pub const DIV_IRQ_SET2: u8 = 0x80;
pub const DIV_IRQ_MFIN_ACT: u8 = 0x10;
pub const DIV_IRQ_CRC: u8 = 0x04;
pub const DIV_IRQ_CLEAR_ALL: u8 = 0x7F;

// ErrorReg
pub const ERR_WR: u8 = 0x80;
pub const ERR_TEMP: u8 = 0x40;
pub const ERR_BUFFER_OVFL: u8 = 0x10;
pub const ERR_COLL: u8 = 0x08;
pub const ERR_CRC: u8 = 0x04;
pub const ERR_PARITY: u8 = 0x02;
pub const ERR_PROTOCOL: u8 = 0x01;

// FIFOLevelReg
pub const FIFO_FLUSH: u8 = 0x80;
pub const FIFO_LEVEL_MASK: u8 = 0x7F;
pub const FIFO_SIZE: usize = 64;

// ControlReg
pub const CONTROL_RX_LAST_BITS: u8 = 0x07;

// BitFramingReg
pub const BIT_FRAMING_START_SEND: u8 = 0x80;

// CollReg
pub const COLL_VALUES_AFTER_COLL: u8 = 0x80;
pub const COLL_POS_NOT_VALID: u8 = 0x20;
pub const COLL_POS_MASK: u8 = 0x1F;

// Status2Reg
pub const STATUS2_MF_CRYPTO1_ON: u8 = 0x08;

// TModeReg
pub const T_MODE_AUTO: u8 = 0x80;

// TxControlReg
pub const TX_CONTROL_TX1_RF_EN: u8 = 0x01;
pub const TX_CONTROL_TX2_RF_EN: u8 = 0x02;

// TxASKReg
pub const TX_ASK_FORCE_100: u8 = 0x40;

// RFCfgReg: RxGain in bits 6..4
pub const RF_CFG_RX_GAIN_MASK: u8 = 0x70;

// AutoTestReg: SelfTest = 1001b enables the digital self-test
pub const AUTO_TEST_SELF_TEST: u8 = 0x09;

/// Reset values (datasheet chapter 9) of the registers a driver relies on.
pub fn reset_value(reg: u8) -> u8 {
    match reg {
        COMMAND => 0x20,
        COM_IEN => 0x80,
        WATER_LEVEL => 0x08,
        CONTROL => 0x10,
        COLL => 0x80,
        MODE => 0x3F,
        RX_SEL => 0x84,
        RX_THRESHOLD => 0x84,
        DEMOD => 0x4D,
        MF_TX => 0x62,
        SERIAL_SPEED => 0xEB,
        CRC_RESULT_H | CRC_RESULT_L => 0xFF,
        MOD_WIDTH => 0x26,
        RF_CFG => 0x48,
        GS_N => 0x88,
        CW_GS_P => 0x20,
        MOD_GS_P => 0x20,
        TX_CONTROL => 0x80,
        TX_SEL => 0x10,
        TEST_SEL1 => 0x00,
        TEST_SEL2 => 0x00,
        TEST_PIN_EN => 0x80,
        ANALOG_TEST => 0x00,
        _ => 0x00,
    }
}
