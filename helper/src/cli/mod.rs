//! The terminal commands, one module each.

pub mod control;
pub mod download;
pub mod files;
pub mod inspect;
pub mod manage;
pub mod reach;
pub mod stream;
