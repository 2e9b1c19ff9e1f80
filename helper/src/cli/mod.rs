//! The terminal commands, one module each.

pub mod control;
pub mod download;
pub mod inspect;
pub mod reach;
