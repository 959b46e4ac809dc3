//! Reading models written by other tools into ours.

pub mod guardlink;
pub mod threatspec;
