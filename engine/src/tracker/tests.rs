//! Tracker client tests against real trackers on loopback.
