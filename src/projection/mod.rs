//! Projections of the event log: conversations, delivery timelines,
//! templates and alerts. They are a pure function of the log: the
//! projector applies it incrementally, `reproject` rebuilds the same result
//! from scratch, and the queries read it for the pages and the JSON API.

pub mod alerts;
pub mod apply;
pub mod payload;
pub mod projector;
pub mod queries;
pub mod search;
pub mod status;
