//! Tests of the kiosk core: tap rules and the credit properties.

mod fixture;
mod ledger_props;
mod sessions;
mod tap_rules;
