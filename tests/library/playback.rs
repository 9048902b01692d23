//! GStreamer playback tests (headless).
