//! One module per page of the dashboard.

pub mod audit;
pub mod conversations;
pub mod deliveries;
pub mod destinations;
pub mod events;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod templates;
