//! Video playback behind the `Player` trait.
