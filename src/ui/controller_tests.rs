//! Controller tests: every touch and core screen, without a UI.
