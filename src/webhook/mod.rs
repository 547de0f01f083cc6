//! Receiving Whats91 deliveries: the signature, the envelope, the
//! authentication decision and the HTTP receiver that sequences them.

pub mod envelope;
pub mod receiver;
pub mod signature;
pub mod verify;
