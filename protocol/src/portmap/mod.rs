//! Port mapping on the user's router, as codecs: PCP (RFC 6887), NAT-PMP (RFC 6886) and UPnP
//! IGD. The engine's `portmap` module sends and receives; everything here only encodes, decodes
//! and checks.

pub mod natpmp;
pub mod pcp;
pub mod upnp;

pub use natpmp::Transport;
