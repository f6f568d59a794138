//! Turning Microsoft's answers into snapshot sections: pure functions, one module per section,
//! tested on real-shaped JSON.

pub(crate) mod authentication_methods;
pub(crate) mod conditional_access;
pub(crate) mod copilot;
pub(crate) mod defender;
pub(crate) mod exchange;
pub(crate) mod metadata;
pub(crate) mod mfa;
