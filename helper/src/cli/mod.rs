//! The terminal commands, one module each.

pub mod inspect;
