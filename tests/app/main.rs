//! Black-box tests of the server: the real router on a loopback socket and
//! a fresh SQLite file per test.

mod api;
mod auth;
mod health;
mod helpers;
mod live;
mod migrations;
mod process;
mod projection;
mod receiver;
mod settings;
mod whats91;
